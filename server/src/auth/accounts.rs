//! Accounts: registration and the password credential check.

use core::net::IpAddr;
use std::sync::Arc;

use crate::{
    secret::{SecretString, random},
    store::{Store, StoreError, User},
};

use super::{
    AuthError,
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

    /// Creates an account (register, and `users create`).
    pub(crate) async fn register(
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
        now: u64,
    ) -> Result<User, AuthError> {
        // The hashing slot first: a flood is shed before it costs a lookup.
        let slot = self.hasher.slot().await?;
        let store = &*self.store;
        let counted = self.limiter.check(store, email, client, now).await?;
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
        let Some(user) = user.filter(|_| verified.ok) else {
            self.limiter.failed(store, email, client, now).await?;
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
