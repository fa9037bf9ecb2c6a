//! Sessions: the one sign-in tail every way of signing in ends with, refresh
//! rotation, revocation, and the access tokens they issue.
//!
//! How the user authenticated (`amr`) and the tenant (`tid`) are stored on
//! the session when it starts and copied from it into every access token,
//! the refreshed ones included.

use std::sync::Arc;

use edgeauth_core::{Claims, VerifyError};

use super::{
    AuthError,
    audit::{self, AuditContext, EventType},
};
use crate::{
    secret::{b64, random},
    store::{AdminChange, AuditEvent, ChangeOutcome, Session, Store, User},
};

use super::{
    refresh::{self, Granted, RefreshToken, SessionPolicy, SuccessorKey},
    roles,
    session_cache::SessionCache,
    tokens::Keyring,
};

/// What every access token of this server says about its issuer.
#[derive(Debug, Clone)]
pub(crate) struct TokenSettings {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    /// Access-token lifetime, seconds.
    pub(crate) access_ttl: u64,
}

/// An access token with its refresh token and session.
#[derive(Debug)]
pub(crate) struct TokenPair {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) granted: Granted,
}

/// The session service: the store, the cache of live sessions, the key that
/// derives refresh successors, session limits, and the signing keys.
pub(crate) struct Sessions {
    store: Arc<dyn Store>,
    cache: SessionCache,
    successor: SuccessorKey,
    policy: SessionPolicy,
    keys: Arc<Keyring>,
    tokens: TokenSettings,
}

impl core::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        cache: SessionCache,
        successor: SuccessorKey,
        policy: SessionPolicy,
        keys: Arc<Keyring>,
        tokens: TokenSettings,
    ) -> Self {
        Self {
            store,
            cache,
            successor,
            policy,
            keys,
            tokens,
        }
    }

    /// The sign-in tail: whatever checked the user's credentials, a new
    /// session remembering `amr` (RFC 8176 method values), and its first
    /// token pair; `audit` (the sign-in's event) is appended in the
    /// transaction that creates the session.
    pub(crate) async fn sign_in_audited(
        &self,
        user_id: &str,
        user_agent: Option<String>,
        amr: Vec<String>,
        audit: Option<AuditEvent>,
        now: u64,
    ) -> Result<TokenPair, AuthError> {
        let granted = refresh::start(
            &*self.store,
            &self.cache,
            self.policy,
            refresh::Start {
                user_id,
                user_agent,
                amr,
                audit,
            },
            now,
        )
        .await?;
        self.pair(granted, now).await
    }

    /// Forgets ended sessions from the session cache (after an
    /// administrator revoked or deleted them).
    pub(crate) fn forget(&self, ids: &[String]) {
        for id in ids {
            self.cache.forget(id);
        }
    }

    /// Rotates a refresh token into a new pair; the access token carries
    /// the session's `amr` and `tid`.
    pub(crate) async fn refresh(
        &self,
        token: &RefreshToken,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<TokenPair, AuthError> {
        let granted = refresh::rotate(
            &*self.store,
            &self.cache,
            &self.successor,
            self.policy,
            token,
            ctx,
            now,
        )
        .await?;
        self.pair(granted, now).await
    }

    /// Revokes one of the user's own sessions, recorded as
    /// `session.revoked`; `SessionNotFound` if the user has no such live
    /// session.
    pub(crate) async fn revoke_own(
        &self,
        id: &str,
        user_id: &str,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<(), AuthError> {
        if self.revoke_recorded(id, user_id, ctx, now).await? {
            Ok(())
        } else {
            Err(AuthError::SessionNotFound)
        }
    }

    /// Revokes a live session of `owner` with its `session.revoked` event,
    /// in one transaction, and forgets it from the cache; false (nothing
    /// written) when there is no such live session.
    pub(crate) async fn revoke_recorded(
        &self,
        id: &str,
        owner: &str,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<bool, AuthError> {
        let change = AdminChange::RevokeSession {
            id: id.to_owned(),
            user_id: owner.to_owned(),
            now,
        };
        let detail = serde_json::json!({ "session_id": id });
        let event = ctx.event(EventType::SessionRevoked, Some(owner), detail, now)?;
        let done = matches!(
            self.store.apply(&change, &event).await?,
            ChangeOutcome::Done { .. }
        );
        self.cache.forget(id);
        if done {
            audit::log(&event);
        }
        Ok(done)
    }

    /// Verifies an access token and checks that its session is still live
    /// (from the cache, else the store); returns the claims and the
    /// session's user.
    pub(crate) async fn verify_access(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(Claims, Arc<User>), AuthError> {
        let claims = self.keys.verify(&*self.store, token, now).await?;
        if let Some(user) = self.cache.get(&claims.sid, now)
            && user.id == claims.sub
        {
            return Ok((claims, user));
        }
        match self.store.session_with_user(&claims.sid).await? {
            Some((session, user)) if session.user_id == claims.sub && session.is_live(now) => {
                let user = Arc::new(user);
                self.cache
                    .put(&session.id, Arc::clone(&user), session.expires_at, now);
                Ok((claims, user))
            }
            _ => Err(AuthError::InvalidToken(VerifyError::Revoked)),
        }
    }

    /// The user's live sessions.
    pub(crate) async fn list(&self, user_id: &str, now: u64) -> Result<Vec<Session>, AuthError> {
        Ok(self.store.user_sessions(user_id, now).await?)
    }

    /// The session that a logout with this refresh token ends: only the
    /// current token or the one just rotated within the grace window; an
    /// older one is answered as a reuse (see [`refresh::logout_session`]).
    pub(crate) async fn logout_session(
        &self,
        token: &RefreshToken,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<Option<String>, AuthError> {
        refresh::logout_session(
            &*self.store,
            &self.cache,
            &self.successor,
            self.policy,
            token,
            ctx,
            now,
        )
        .await
    }

    async fn pair(&self, mut granted: Granted, now: u64) -> Result<TokenPair, AuthError> {
        let direct = match granted.roles.take() {
            Some(roles) => roles,
            None => self.store.user_roles(&granted.user_id).await?,
        };
        let grants = if direct.is_empty() {
            roles::Grants::default()
        } else {
            roles::expand(&direct, &self.store.role_definitions().await?)
        };
        let jti: [u8; 16] = random()?;
        let claims = access_claims(&self.tokens, &granted, grants, b64(&jti), now);
        Ok(TokenPair {
            access_token: self.keys.mint(&claims)?,
            expires_in: self.tokens.access_ttl,
            granted,
        })
    }
}

/// The claims of an access token for a session: its effective roles and
/// permissions, and the session's `amr` and `tid`.
fn access_claims(
    settings: &TokenSettings,
    granted: &Granted,
    grants: roles::Grants,
    jti: String,
    now: u64,
) -> Claims {
    Claims {
        iss: settings.issuer.clone(),
        aud: vec![settings.audience.clone()],
        sub: granted.user_id.clone(),
        sid: granted.session_id.clone(),
        jti,
        iat: now,
        nbf: now,
        exp: now.saturating_add(settings.access_ttl),
        roles: grants.roles,
        perms: grants.perms,
        tid: granted.tid.clone(),
        amr: Some(granted.amr.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(amr: &[&str], tid: Option<&str>) -> Granted {
        Granted {
            session_id: "s1".into(),
            user_id: "u1".into(),
            refresh_token: RefreshToken::parse(&"A".repeat(43)).unwrap(),
            expires_at: 200,
            roles: None,
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
            tid: tid.map(str::to_owned),
        }
    }

    #[test]
    fn claims_take_amr_and_tid_from_the_session() {
        let settings = TokenSettings {
            issuer: "https://auth.example".into(),
            audience: "api".into(),
            access_ttl: 60,
        };
        let grants = roles::Grants {
            roles: vec!["editor".into()],
            perms: vec!["articles.write".into()],
        };
        let otp = access_claims(
            &settings,
            &granted(&["otp", "mfa"], Some("t1")),
            grants.clone(),
            "j".into(),
            100,
        );
        assert_eq!(otp.amr, Some(vec!["otp".to_owned(), "mfa".to_owned()]));
        assert_eq!(otp.tid.as_deref(), Some("t1"));
        assert_eq!((otp.sub.as_str(), otp.sid.as_str()), ("u1", "s1"));
        assert_eq!((otp.iat, otp.nbf, otp.exp), (100, 100, 160));
        assert_eq!(
            (otp.roles, otp.perms),
            (grants.roles.clone(), grants.perms.clone())
        );
        let pwd = access_claims(&settings, &granted(&["pwd"], None), grants, "j".into(), 100);
        assert_eq!(pwd.amr, Some(vec!["pwd".to_owned()]));
        assert_eq!(pwd.tid, None);
    }
}
