//! Refresh tokens and sessions: creation with LRU eviction, rotation with
//! family reuse detection, and the idempotent grace window.
//!
//! A refresh token is 32 random bytes (base64url); the store keeps only its
//! SHA-256. Its successor is not random: it is HMAC-SHA256 of the parent
//! under a key derived from the master key. So a retry of the same parent
//! (a lost response, two tabs, two concurrent requests) computes the very
//! same successor, never a second live branch, and no plaintext token is
//! ever stored.

use core::fmt;

use super::{
    AuthError,
    audit::{self, AuditContext, EventType},
};
use crate::{
    metrics::{self, Refresh},
    secret::{b64, b64_array, hmac_sha256, random, sha256},
    store::{
        AdminChange, AuditEvent, ChangeOutcome, NewSession, RefreshRecord, RotateOutcome, Rotation,
        Session, Store,
    },
};

use super::session_cache::SessionCache;

/// A refresh token's value. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RefreshToken([u8; 32]);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    fn generate() -> Result<Self, AuthError> {
        Ok(Self(random()?))
    }

    /// Parses the wire form; anything else is simply not a valid token.
    pub(crate) fn parse(text: &str) -> Result<Self, AuthError> {
        b64_array(text.trim())
            .map(Self)
            .ok_or(AuthError::InvalidRefreshToken)
    }

    /// The wire form (43 base64url characters).
    pub(crate) fn encode(&self) -> String {
        b64(&self.0)
    }

    fn hash(&self) -> [u8; 32] {
        sha256(&self.0)
    }
}

/// The key that derives successors. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct SuccessorKey([u8; 32]);

impl fmt::Debug for SuccessorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuccessorKey(<redacted>)")
    }
}

impl SuccessorKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn successor(&self, parent: &RefreshToken) -> RefreshToken {
        RefreshToken(hmac_sha256(
            &self.0,
            &[b"edgeauth refresh successor v1\0", &parent.0],
        ))
    }
}

/// Session lifetimes and limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPolicy {
    pub(crate) refresh_ttl: u64,
    pub(crate) lifetime: u64,
    pub(crate) grace: u64,
    pub(crate) max_sessions: u32,
    /// New refresh tokens per session per minute; 0 = no cap.
    pub(crate) max_per_minute: u32,
}

/// The rotation cap's window, in seconds.
const CAP_WINDOW: u64 = 60;

/// A session and the refresh token the client now holds for it.
#[derive(Debug)]
pub(crate) struct Granted {
    pub(crate) session_id: String,
    pub(crate) user_id: String,
    pub(crate) refresh_token: RefreshToken,
    /// When the refresh token stops working unless used (sliding expiry).
    pub(crate) expires_at: u64,
    /// The user's directly granted roles, when the store already read them.
    pub(crate) roles: Option<Vec<String>>,
    /// How the user authenticated at sign-in, as stored on the session.
    pub(crate) amr: Vec<String>,
    /// The session's tenant, as stored on the session.
    pub(crate) tid: Option<String>,
}

/// Who signs in, from what, how, and the event that records it.
#[derive(Debug)]
pub(crate) struct Start<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) user_agent: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) audit: Option<AuditEvent>,
}

/// Starts a session (a new family) for a user who just signed in.
pub(crate) async fn start(
    store: &dyn Store,
    cache: &SessionCache,
    policy: SessionPolicy,
    start: Start<'_>,
    now: u64,
) -> Result<Granted, AuthError> {
    let Start {
        user_id,
        user_agent,
        amr,
        audit,
    } = start;
    let token = RefreshToken::generate()?;
    let id = session_id(now)?;
    let absolute = now.saturating_add(policy.lifetime);
    let expires_at = now.saturating_add(policy.refresh_ttl).min(absolute);
    let evicted = store
        .create_session(
            &NewSession {
                id: id.clone(),
                user_id: user_id.to_owned(),
                created_at: now,
                expires_at,
                absolute_expires_at: absolute,
                user_agent,
                amr: amr.clone(),
                tid: None,
                token_hash: token.hash(),
                audit,
            },
            policy.max_sessions,
        )
        .await?;
    for id in &evicted {
        cache.forget(id);
    }
    if !evicted.is_empty() {
        tracing::info!(
            user_id,
            evicted = evicted.len(),
            "evicted least recently used sessions"
        );
    }
    Ok(Granted {
        session_id: id,
        user_id: user_id.to_owned(),
        refresh_token: token,
        expires_at,
        roles: None,
        amr,
        tid: None,
    })
}

/// A new session id: a UUID version 7, whose leading bits are the time
/// (`now`, with a per-process sequence for the milliseconds), so that ids
/// sort in creation order. The least-recently-used eviction breaks ties
/// of its one-second timestamps by id, newest kept: of sessions opened in
/// the same second, the first opened is the first to go.
fn session_id(now: u64) -> Result<String, AuthError> {
    use core::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let within = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 1000;
    let millis = now.saturating_mul(1000).saturating_add(within);
    let random: [u8; 10] = random()?;
    Ok(uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string())
}

/// Rotates a presented refresh token.
///
/// - unknown token, revoked or expired session: `invalid_refresh_token`;
/// - unused token: it is marked used and its successor stored, atomically,
///   unless the session already got `max_per_minute` tokens within the last
///   minute (`too_many_attempts`);
/// - the token just rotated, again, within the grace window while its
///   successor is still unused: the same successor is returned;
/// - any other used token (outside the window, or an older ancestor):
///   the whole family is revoked, `refresh_token_reused`.
pub(crate) async fn rotate(
    store: &dyn Store,
    cache: &SessionCache,
    key: &SuccessorKey,
    policy: SessionPolicy,
    presented: &RefreshToken,
    ctx: &AuditContext,
    now: u64,
) -> Result<Granted, AuthError> {
    let hash = presented.hash();
    let child = key.successor(presented);
    let child_hash = child.hash();
    // The common case in one transaction, without a lookup first.
    let expires_at = now.saturating_add(policy.refresh_ttl);
    match store
        .rotate_refresh(&Rotation {
            parent_hash: hash,
            child_hash,
            now,
            expires_at,
            max_recent: match policy.max_per_minute {
                0 => u64::MAX,
                n => u64::from(n),
            },
            recent_since: now.saturating_sub(CAP_WINDOW),
        })
        .await?
    {
        RotateOutcome::Rotated(session, roles) => {
            let expires_at = session.expires_at;
            let mut granted = granted(session, child, expires_at);
            granted.roles = Some(roles);
            metrics::refresh(Refresh::Rotated);
            return Ok(granted);
        }
        RotateOutcome::NotRotated => {}
    }
    // Unknown, already used (by an earlier or a concurrent request), or its
    // session is over.
    let Some(RefreshRecord {
        session, used_at, ..
    }) = store.refresh_token(&hash).await?
    else {
        metrics::refresh(Refresh::Invalid);
        return Err(AuthError::InvalidRefreshToken);
    };
    if !session.is_live(now) {
        metrics::refresh(Refresh::Invalid);
        return Err(AuthError::InvalidRefreshToken);
    }
    let Some(used_at) = used_at else {
        // Unused, its session live, yet not rotated: the session is at its
        // rotation cap.
        if policy.max_per_minute > 0 {
            crate::metrics::throttled("rotation");
            return Err(AuthError::TooManyAttempts(CAP_WINDOW));
        }
        metrics::refresh(Refresh::Invalid);
        return Err(AuthError::InvalidRefreshToken);
    };
    if let Some(successor) = in_grace(store, policy, &child_hash, used_at, now).await? {
        let expires_at = successor.session.expires_at;
        metrics::refresh(Refresh::GraceReplay);
        return Ok(granted(successor.session, child, expires_at));
    }
    metrics::refresh(Refresh::Reused);
    Err(reused(store, cache, &session, ctx, now).await?)
}

/// The successor of a token used at `used_at`, when that use is still
/// inside the grace window and the successor is unused: a retry of the
/// rotation, not a reuse.
async fn in_grace(
    store: &dyn Store,
    policy: SessionPolicy,
    child_hash: &[u8; 32],
    used_at: u64,
    now: u64,
) -> Result<Option<RefreshRecord>, AuthError> {
    if policy.grace == 0 || now >= used_at.saturating_add(policy.grace) {
        return Ok(None);
    }
    Ok(store
        .refresh_token(child_hash)
        .await?
        .filter(|successor| successor.used_at.is_none()))
}

/// A used token presented again: the whole family is revoked, and the
/// answer is `refresh_token_reused`.
async fn reused(
    store: &dyn Store,
    cache: &SessionCache,
    session: &Session,
    ctx: &AuditContext,
    now: u64,
) -> Result<AuthError, AuthError> {
    // Revoked with its `refresh.reused` event in one transaction, acted by
    // the server on the session's user, from the request's address, user
    // agent and request id.
    let change = AdminChange::RevokeSession {
        id: session.id.clone(),
        user_id: session.user_id.clone(),
        now,
    };
    let event = AuditContext::system().with_request_of(ctx).event(
        EventType::RefreshReused,
        Some(&session.user_id),
        serde_json::json!({ "session_id": session.id }),
        now,
    )?;
    let revoked = matches!(
        store.apply(&change, &event).await?,
        ChangeOutcome::Done { .. }
    );
    cache.forget(&session.id);
    if revoked {
        audit::log(&event);
        tracing::warn!(
            session_id = %session.id,
            user_id = %session.user_id,
            "refresh token reused: session revoked"
        );
    }
    Ok(AuthError::RefreshTokenReused)
}

/// The session that a logout with a refresh token ends. Only the current
/// token, or the one just rotated within the grace window, may end it; an
/// older token is a reuse (the family is revoked and the answer is
/// `refresh_token_reused`), so a stale token cannot pass for its session's
/// owner. An unknown token, or one of a session already over, ends nothing.
pub(crate) async fn logout_session(
    store: &dyn Store,
    cache: &SessionCache,
    key: &SuccessorKey,
    policy: SessionPolicy,
    presented: &RefreshToken,
    ctx: &AuditContext,
    now: u64,
) -> Result<Option<String>, AuthError> {
    let Some(RefreshRecord {
        session, used_at, ..
    }) = store.refresh_token(&presented.hash()).await?
    else {
        return Ok(None);
    };
    if !session.is_live(now) {
        return Ok(None);
    }
    let Some(used_at) = used_at else {
        return Ok(Some(session.id));
    };
    let child_hash = key.successor(presented).hash();
    if in_grace(store, policy, &child_hash, used_at, now)
        .await?
        .is_some()
    {
        return Ok(Some(session.id));
    }
    Err(reused(store, cache, &session, ctx, now).await?)
}

fn granted(session: Session, token: RefreshToken, expires_at: u64) -> Granted {
    Granted {
        session_id: session.id,
        user_id: session.user_id,
        refresh_token: token,
        expires_at,
        roles: None,
        amr: session.amr,
        tid: session.tid,
    }
}
