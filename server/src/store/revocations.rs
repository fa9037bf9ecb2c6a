//! The revocation feed's source: which sessions were revoked lately.

use async_trait::async_trait;

use super::StoreError;

/// Recently revoked sessions.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// The ids of every session revoked at or after `since`, whatever
    /// revoked it (logout, reuse, eviction, an administrator, the deletion
    /// of its user), sorted.
    async fn revoked_since(&self, since: u64) -> Result<Vec<String>, StoreError>;
    /// Forgets the tombstones of deleted users' sessions revoked before
    /// `before`; returns how many went.
    async fn purge_tombstones(&self, before: u64) -> Result<u64, StoreError>;
}

/// The one implementation of [`RevocationStore`], for a store type whose
/// `$reader` and `$writer` pools it uses (both backends take the same SQL).
/// The partial index on `revoked_at` (migration 4) makes the feed's query a
/// short range scan; the tombstones of deleted users' sessions (migration
/// 8) are read beside it.
macro_rules! revocation_store {
    ($store:ty, $reader:ident, $writer:ident) => {
        use async_trait::async_trait;

        use crate::store::{
            RevocationStore, StoreError,
            rows::{backend, db_time},
        };

        #[async_trait]
        impl RevocationStore for $store {
            async fn revoked_since(&self, since: u64) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar(
                    "SELECT id FROM sessions WHERE revoked_at >= $1 \
                     UNION SELECT session_id FROM session_tombstones WHERE revoked_at >= $1 ORDER BY 1",
                )
                .bind(db_time(since))
                .fetch_all(&self.$reader)
                .await
                .map_err(backend)
            }

            async fn purge_tombstones(&self, before: u64) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM session_tombstones WHERE revoked_at < $1")
                    .bind(db_time(before))
                    .execute(&self.$writer)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(super) use revocation_store;
