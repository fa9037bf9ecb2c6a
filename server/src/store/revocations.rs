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
