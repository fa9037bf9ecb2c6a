//! Sessions and their refresh tokens: creation with eviction, lookups,
//! revocation and rotation.

use async_trait::async_trait;

use super::{AuditEvent, StoreError, User};

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
    /// The rotation cap: nothing is written when the session already has
    /// `max_recent` refresh tokens created after `recent_since`
    /// (`u64::MAX`: no cap).
    pub max_recent: u64,
    /// The start of the cap's window.
    pub recent_since: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The parent was unused and is now used, the successor exists, and the
    /// session (returned as updated) slid. Also returns the roles granted
    /// directly to the session's user, which the next access token needs.
    Rotated(Session, Vec<String>),
    /// Nothing was written: no unused token with that hash (unknown, or
    /// used first by another request), its session is revoked or expired,
    /// or the session is at its rotation cap.
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
    /// The sign-in's audit event (`login.succeeded`), appended in the
    /// session's transaction.
    pub audit: Option<AuditEvent>,
}

/// Sessions and refresh tokens. `create_session` and `rotate_refresh` are
/// transactions.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Creates a session with its first refresh token, first revoking the
    /// user's least recently used live sessions so that at most
    /// `max_sessions` stay live. Returns the ids it revoked.
    async fn create_session(
        &self,
        session: &NewSession,
        max_sessions: u32,
    ) -> Result<Vec<String>, StoreError>;
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
    /// Deletes up to `limit` sessions that ended (revoked, or expired)
    /// before `ended_before`, with their refresh tokens, in one
    /// transaction; returns how many went.
    async fn purge_sessions(&self, ended_before: u64, limit: u32) -> Result<u64, StoreError>;
}
