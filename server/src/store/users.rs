//! Accounts: the [`User`] row and the [`UserStore`] calls on it.

use core::fmt;

use async_trait::async_trait;

use super::StoreError;

/// A user account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// UUID.
    pub id: String,
    /// Normalised email (lowercase).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// When an administrator disabled the account (None: enabled). A
    /// disabled account's login answers like a wrong password.
    pub disabled_at: Option<u64>,
    /// When its current address was verified (None: not verified).
    pub email_verified_at: Option<u64>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user; `Conflict` if the email is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Replaces a password hash (rehash on login).
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError>;
}
