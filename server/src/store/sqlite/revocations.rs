//! The revocation feed's source on SQLite: the partial index on
//! `revoked_at` (migration 4) makes it a short range scan, and the
//! tombstones of deleted users' sessions (migration 8) are read beside it.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::{
    RevocationStore, StoreError,
    rows::{backend, db_time},
};

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoked_since(&self, since: u64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM sessions WHERE revoked_at >= $1 \
             UNION SELECT session_id FROM session_tombstones WHERE revoked_at >= $1 ORDER BY 1",
        )
        .bind(db_time(since))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn purge_tombstones(&self, before: u64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM session_tombstones WHERE revoked_at < $1")
            .bind(db_time(before))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}
