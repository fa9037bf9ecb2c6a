//! The login throttle: failed sign-ins counted per key in fixed windows.

use async_trait::async_trait;

use super::StoreError;

/// Failed sign-ins, keyed by a hash (never the email itself).
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// The failed sign-ins counted for a key: `(failures, window_start)`.
    async fn login_failures(&self, key_hash: &[u8; 32]) -> Result<Option<(u64, u64)>, StoreError>;

    /// Counts a failed sign-in at `now`, atomically: one more in the open
    /// window, or 1 in a new window starting now when the last one ended
    /// (`window_start + window <= now`). Forgets every key whose window
    /// ended.
    async fn record_login_failure(
        &self,
        key_hash: &[u8; 32],
        now: u64,
        window: u64,
    ) -> Result<(), StoreError>;

    /// Forgets a key's failures (after a successful sign-in).
    async fn clear_login_failures(&self, key_hash: &[u8; 32]) -> Result<(), StoreError>;
}
