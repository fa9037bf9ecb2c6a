//! Storage: one trait, one implementation per backend (SQLite for one
//! machine, PostgreSQL for several instances sharing a database), each with
//! its own append-only migrations folder; [`connect_store`] picks one from
//! `DATABASE_URL`.
//!
//! The trait speaks in plain values (ids as strings, times as seconds since
//! the epoch, hashes as bytes) so the SQL of each backend stays portable.
//! Rotation is a conditional update inside a transaction: the store never
//! reads a token and then writes based on what it read, so it stays correct
//! when several server instances share one database.

use core::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Backend, DatabaseUrl, Synchronous};

mod postgres;
mod rows;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// An open store of either backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// The store, for the app state.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Closes its connections.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// Opens the backend that `url` names (not yet migrated). `synchronous`
/// applies to SQLite, `pool_size` to PostgreSQL.
pub async fn connect_store(
    url: &DatabaseUrl,
    synchronous: Synchronous,
    pool_size: u32,
) -> Result<AnyStore, StoreError> {
    Ok(match url.backend() {
        Backend::Sqlite => AnyStore::Sqlite(SqliteStore::connect(url.as_str(), synchronous).await?),
        Backend::Postgres => AnyStore::Postgres(PgStore::connect(url.as_str(), pool_size).await?),
    })
}

/// A storage failure. Backend errors are kept as opaque sources.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. the email exists).
    Conflict,
    /// A row the operation needs does not exist.
    NotFound,
    /// The database cannot be reached (connection refused or lost, pool
    /// exhausted or closed, server shutting down): worth a retry.
    Unavailable(Box<dyn core::error::Error + Send + Sync>),
    /// The backend failed.
    Backend(Box<dyn core::error::Error + Send + Sync>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("conflicting row"),
            Self::NotFound => f.write_str("row not found"),
            Self::Unavailable(e) => write!(f, "database unavailable: {e}"),
            Self::Backend(e) => write!(f, "database: {e}"),
        }
    }
}

impl core::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Unavailable(e) | Self::Backend(e) => Some(&**e),
            _ => None,
        }
    }
}

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
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A role: what it inherits and the permissions it grants directly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleDef {
    /// Role name.
    pub name: String,
    /// Roles whose roles and permissions this one includes.
    pub inherits: Vec<String>,
    /// Permissions, `resource.action` with `*` wildcards.
    pub perms: Vec<String>,
}

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

/// A session (one refresh-token family, one device sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id = family id (UUID), the `sid` claim.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Last login or refresh.
    pub last_used_at: u64,
    /// Sliding expiry, never after `absolute_expires_at`.
    pub expires_at: u64,
    /// Absolute end of the session.
    pub absolute_expires_at: u64,
    /// When it was revoked (logout, reuse, eviction).
    pub revoked_at: Option<u64>,
    /// The User-Agent of the sign-in.
    pub user_agent: Option<String>,
    /// How the user authenticated at sign-in (RFC 8176 `amr` values, e.g.
    /// `pwd`), carried by every access token of the session.
    pub amr: Vec<String>,
    /// The tenant the session was opened in (the `tid` claim), if any.
    pub tid: Option<String>,
}

impl Session {
    /// Whether the session is neither revoked nor expired at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A refresh token's row, found by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// Its session.
    pub session: Session,
    /// 0 for the login token, parent + 1 after.
    pub generation: u64,
    /// When it was rotated, if it was.
    pub used_at: Option<u64>,
}

/// One rotation: mark `parent_hash` used and insert its successor.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// SHA-256 of the presented token.
    pub parent_hash: [u8; 32],
    /// SHA-256 of its successor.
    pub child_hash: [u8; 32],
    /// Now.
    pub now: u64,
    /// The sliding expiry to set: `min(expires_at, absolute_expires_at)`.
    pub expires_at: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The parent was unused and is now used, the successor exists, and the
    /// session (returned as updated) slid. Also returns the roles granted
    /// directly to the session's user, which the next access token needs.
    Rotated(Session, Vec<String>),
    /// Nothing was written: no unused token with that hash (unknown, or
    /// used first by another request), or its session is revoked or
    /// expired.
    NotRotated,
}

/// A new session and its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Session id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Now.
    pub created_at: u64,
    /// First sliding expiry.
    pub expires_at: u64,
    /// Absolute expiry.
    pub absolute_expires_at: u64,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// How the user authenticated (RFC 8176 `amr` values, e.g. `pwd`).
    pub amr: Vec<String>,
    /// The tenant, if any.
    pub tid: Option<String>,
    /// SHA-256 of the first refresh token.
    pub token_hash: [u8; 32],
}

/// Everything the server keeps. Implementations must make each method
/// atomic; `create_session` and `rotate_refresh` are transactions.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Inserts a user; `Conflict` if the email is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Replaces a password hash (rehash on login).
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError>;

    /// The roles granted directly to a user.
    async fn user_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError>;
    /// Grants a role; false if the user already had it.
    async fn grant_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError>;
    /// Revokes a role; false if the user did not have it.
    async fn revoke_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError>;
    /// Every defined role.
    async fn role_definitions(&self) -> Result<Vec<RoleDef>, StoreError>;
    /// Defines or redefines a role (replaces its inherits and perms).
    async fn define_role(&self, role: &RoleDef, now: u64) -> Result<(), StoreError>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Inserts `key` as the signing key only if no key is active; false if
    /// one already was (another process won).
    async fn insert_first_key(&self, key: &StoredKey) -> Result<bool, StoreError>;
    /// Retires the active key(s) at `now` and inserts `key`, atomically.
    async fn rotate_key(&self, key: &StoredKey, now: u64) -> Result<(), StoreError>;

    /// Creates a session with its first refresh token, first revoking the
    /// user's least recently used live sessions so that at most
    /// `max_sessions` stay live. Returns the ids it revoked.
    async fn create_session(
        &self,
        session: &NewSession,
        max_sessions: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// A session by id with its user, in one lookup (every authenticated
    /// request makes it).
    async fn session_with_user(&self, id: &str) -> Result<Option<(Session, User)>, StoreError>;
    /// A user's live sessions at `now`, most recently used first.
    async fn user_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError>;
    /// Revokes a session (only if it belongs to `user_id` when given);
    /// false if there was no such live session.
    async fn revoke_session(
        &self,
        id: &str,
        user_id: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError>;
    /// A refresh token by the SHA-256 of its value, with its session.
    async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError>;
    /// Marks the parent used, slides its session and inserts the successor,
    /// in one transaction, by conditional updates (`... WHERE used_at IS
    /// NULL`, `... WHERE revoked_at IS NULL`): whoever loses a race gets
    /// `NotRotated` and nothing is written.
    async fn rotate_refresh(&self, rotation: &Rotation) -> Result<RotateOutcome, StoreError>;

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
