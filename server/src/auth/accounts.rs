//! Accounts: registration and the password credential check.

use std::sync::Arc;

use crate::{
    secret::{SecretString, random},
    store::{Store, StoreError, User},
};

use super::{
    AuthError,
    limiter::LoginLimiter,
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

/// Normalises an email (trim, lowercase) and checks its shape.
pub(crate) fn normalize_email(raw: &str) -> Result<String, AuthError> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@').ok_or(AuthError::InvalidEmail)?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !local.contains('@')
        && email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != ',' && c != ';');
    if ok {
        Ok(email)
    } else {
        Err(AuthError::InvalidEmail)
    }
}

fn normalize_name(name: Option<String>) -> Result<Option<String>, AuthError> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AuthError::InvalidName);
    }
    Ok(Some(name.to_owned()))
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

    /// Creates an account (register, and `users create`).
    pub(crate) async fn register(
        &self,
        email: &str,
        password: &SecretString,
        name: Option<String>,
        now: u64,
    ) -> Result<User, AuthError> {
        let email = normalize_email(email)?;
        let name = normalize_name(name)?;
        let normalized = self
            .policy
            .check(password, &email)
            .map_err(AuthError::WeakPassword)?;
        let slot = self.hasher.slot().await?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = self.hasher.hash(slot, normalized).await?;
        let id = uuid::Builder::from_random_bytes(random()?)
            .into_uuid()
            .to_string();
        let user = User {
            id,
            email,
            name,
            password_hash,
            created_at: now,
        };
        match self.store.create_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict) => Err(AuthError::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an email and password: the same answer, and the same argon2
    /// work, whether the email is unknown or the password wrong. Returns
    /// the user; signing in is the caller's next step.
    pub(crate) async fn check_password(
        &self,
        email: &str,
        password: &SecretString,
        now: u64,
    ) -> Result<User, AuthError> {
        // The hashing slot first: a flood is shed before it costs a lookup.
        let slot = self.hasher.slot().await?;
        let store = &*self.store;
        let had_failures = self.limiter.check(store, email, now).await?;
        let user = match normalize_email(email) {
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
        let Some(user) = user.filter(|_| verified.ok) else {
            self.limiter.failed(store, email, now).await?;
            return Err(AuthError::InvalidCredentials);
        };
        if had_failures {
            self.limiter.succeeded(store, email).await?;
        }
        if let Some(hash) = verified.rehash {
            store.set_password_hash(&user.id, &hash).await?;
            tracing::info!(user_id = %user.id, "password rehashed with the current argon2 parameters");
        }
        Ok(user)
    }
}
