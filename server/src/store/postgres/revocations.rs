//! The revocation feed's source on PostgreSQL: the partial index on
//! `revoked_at` (migration 4) makes it a short range scan.

use async_trait::async_trait;

use super::PgStore;
use crate::store::{
    RevocationStore, StoreError,
    rows::{backend, db_time},
};

#[async_trait]
impl RevocationStore for PgStore {
    async fn revoked_since(&self, since: u64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT id FROM sessions WHERE revoked_at >= $1 ORDER BY id")
            .bind(db_time(since))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }
}
