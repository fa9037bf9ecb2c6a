//! Signing keys: the sealed [`StoredKey`] rows and their rotation.

use core::fmt;

use async_trait::async_trait;

use super::{AuditEvent, StoreError};

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
    /// When it starts signing: `created_at` for a key that signed at once,
    /// later for a key published ahead (`next` until then).
    pub activates_at: u64,
    /// When a newer key takes (or took) over signing.
    pub retired_at: Option<u64>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
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
    /// Schedules `key` to take over signing at `key.activates_at`: the key
    /// that has no retirement yet retires then, and `key` is inserted, in
    /// one transaction. Nothing happens, and false comes back, when a key
    /// is already waiting to take over (`activates_at > now`): of two
    /// rotations at once, across instances too, one wins.
    /// `event` (its `key.rotated`) is appended in the same transaction
    /// when the key is scheduled.
    async fn schedule_key(
        &self,
        key: &StoredKey,
        now: u64,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError>;
    /// Replaces the current key, and any waiting one, by `key` at once: they
    /// are deleted (a compromised key leaves the JWKS at once) and `key`
    /// signs from now; retired keys stay. One transaction.
    /// `event` is appended in the same transaction.
    async fn replace_keys_now(
        &self,
        key: &StoredKey,
        now: u64,
        event: Option<&AuditEvent>,
    ) -> Result<(), StoreError>;
}
