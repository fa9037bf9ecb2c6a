//! Signing keys: the sealed [`StoredKey`] rows and their rotation.

use core::fmt;

use async_trait::async_trait;

use super::StoreError;

/// A signing key as stored: the seed sealed under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// Raw Ed25519 public key.
    pub public_key: Vec<u8>,
    /// The seed, sealed (see `MasterKey::seal`).
    pub sealed_seed: Vec<u8>,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// When a newer key took over signing.
    pub retired_at: Option<u64>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Inserts `key` as the signing key only if no key is active; false if
    /// one already was (another process won).
    async fn insert_first_key(&self, key: &StoredKey) -> Result<bool, StoreError>;
    /// Retires the active key(s) at `now` and inserts `key`, atomically.
    async fn rotate_key(&self, key: &StoredKey, now: u64) -> Result<(), StoreError>;
}
