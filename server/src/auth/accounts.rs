//! Accounts: registration and the password credential check.

use core::net::IpAddr;
use std::sync::Arc;

use serde_json::json;

use crate::{
    secret::{SecretString, random},
    store::{AdminChange, AuditEvent, NewMail, Store, StoreError, User},
};

use super::{
    AuthError,
    audit::{self, AuditContext, EventType},
    limiter::LoginLimiter,
    normalize,
    password::{PasswordHasher, PasswordPolicy},
};

/// The account service: the store, the password hasher and policy, and the
/// failed-login limiter.
pub(crate) struct Accounts {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    limiter: LoginLimiter,
}

impl core::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Accounts")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        limiter: LoginLimiter,
    ) -> Self {
        Self {
            store,
            hasher,
            policy,
            limiter,
        }
    }

    /// Checks a new account's email, name and password and hashes the
    /// password: the user to insert (register, and `users create`).
    pub(crate) async fn prepare(
        &self,
        email: &str,
        password: &SecretString,
        name: Option<String>,
        now: u64,
    ) -> Result<User, AuthError> {
        let email = normalize::email(email)?;
        let name = normalize::name(name)?;
        let normalized = self
            .policy
            .check(password, &email)
            .map_err(AuthError::WeakPassword)?;
        let slot = self.hasher.slot().await?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = self.hasher.hash(slot, normalized).await?;
        new_user(email, name, password_hash, now)
    }

    /// Registers an account (`POST /auth/register`), with its
    /// `user.registered` event, acted by the new user, and when `verify`
    /// its verification link queued: all in one transaction.
    pub(crate) async fn register(
        &self,
        email: &str,
        password: &SecretString,
        name: Option<String>,
        verify: bool,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<User, AuthError> {
        let user = self.prepare(email, password, name, now).await?;
        let event = ctx.acted_by(&user.id).event(
            EventType::UserRegistered,
            Some(&user.id),
            json!({}),
            now,
        )?;
        let mails = if verify {
            vec![super::email::verification_mail(&user, now)?]
        } else {
            Vec::new()
        };
        insert_user(&*self.store, user, Vec::new(), mails, &event).await
    }

    /// Checks a new password against the policy (with the account's
    /// address) and hashes it: a reset, a change.
    pub(crate) async fn new_password_hash(
        &self,
        password: &SecretString,
        email: &str,
    ) -> Result<String, AuthError> {
        let normalized = self
            .policy
            .check(password, email)
            .map_err(AuthError::WeakPassword)?;
        let slot = self.hasher.slot().await?;
        self.hasher.hash(slot, normalized).await
    }

    /// Whether the user's address is verified.
    pub(crate) async fn email_verified(&self, user_id: &str) -> Result<bool, AuthError> {
        Ok(self.store.email_verified_at(user_id).await?.is_some())
    }

    /// Checks an email and password: the same answer, and the same argon2
    /// work, whether the email is unknown or the password wrong. Returns
    /// the user; signing in is the caller's next step.
    pub(crate) async fn check_password(
        &self,
        email: &str,
        password: &SecretString,
        client: IpAddr,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<User, AuthError> {
        // The hashing slot first: a flood is shed before it costs a lookup.
        let slot = self.hasher.slot().await?;
        let store = &*self.store;
        let counted = match self.limiter.check(store, email, client, now).await {
            Err(e @ AuthError::TooManyAttempts(_)) => {
                let event = ctx.acted_by(audit::ACTOR_ANONYMOUS).event(
                    EventType::LoginThrottled,
                    None,
                    json!({}),
                    now,
                )?;
                audit::append(store, &event).await?;
                return Err(e);
            }
            other => other?,
        };
        let user = match normalize::email(email) {
            Ok(email) => store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let verified = self
            .hasher
            .verify(
                slot,
                password,
                user.as_ref().map(|u| u.password_hash.as_str()),
            )
            .await?;
        // A disabled account answers like a wrong password, after the
        // same argon2 work.
        let disabled = user.as_ref().is_some_and(|u| u.disabled_at.is_some());
        let target = user.as_ref().map(|u| u.id.clone());
        let Some(user) = user.filter(|u| verified.ok && u.disabled_at.is_none()) else {
            self.limiter.failed(store, email, client, now).await?;
            let reason = if disabled && verified.ok {
                "disabled"
            } else {
                "invalid_credentials"
            };
            // The actor is the account tried, when it exists.
            let actor = target.as_deref().unwrap_or(audit::ACTOR_ANONYMOUS);
            let event = ctx.acted_by(actor).event(
                EventType::LoginFailed,
                target.as_deref(),
                json!({ "reason": reason }),
                now,
            )?;
            audit::append(store, &event).await?;
            return Err(AuthError::InvalidCredentials);
        };
        self.limiter
            .succeeded(store, email, client, counted)
            .await?;
        if let Some(hash) = verified.rehash {
            store.set_password_hash(&user.id, &hash).await?;
            tracing::info!(user_id = %user.id, "password rehashed with the current argon2 parameters");
        }
        Ok(user)
    }
}

/// A new user row with a fresh id.
pub(crate) fn new_user(
    email: String,
    name: Option<String>,
    password_hash: String,
    now: u64,
) -> Result<User, AuthError> {
    let id = uuid::Builder::from_random_bytes(random()?)
        .into_uuid()
        .to_string();
    Ok(User {
        id,
        email,
        name,
        password_hash,
        created_at: now,
        disabled_at: None,
        email_verified_at: None,
    })
}

/// Inserts a user with its roles and its event, in one transaction;
/// `email_taken` if the email is taken meanwhile.
pub(crate) async fn insert_user(
    store: &dyn Store,
    user: User,
    roles: Vec<String>,
    mails: Vec<NewMail>,
    event: &AuditEvent,
) -> Result<User, AuthError> {
    let change = AdminChange::CreateUser {
        user: user.clone(),
        roles,
        mails,
    };
    match store.apply(&change, event).await {
        Ok(_) => {
            audit::log(event);
            Ok(user)
        }
        Err(StoreError::Conflict) => Err(AuthError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}
