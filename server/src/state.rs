//! The application state shared by every request.

use std::sync::Arc;

use crate::{
    auth::{
        limiter::LoginLimiter,
        password::{PasswordHasher, PasswordPolicy},
        refresh::{SessionPolicy, SuccessorKey},
        session_cache::SessionCache,
        tokens::{self, Keyring},
    },
    clock::Clock,
    config::Config,
    error::AppError,
    secret::MasterKey,
    store::Store,
};

/// Everything a handler needs: configuration, store, clock, keys, hasher.
/// Cheap to clone (a few reference counts).
#[derive(Clone)]
pub struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) hasher: Arc<PasswordHasher>,
    pub(crate) policy: Arc<PasswordPolicy>,
    pub(crate) successor: Arc<SuccessorKey>,
    pub(crate) limiter: Arc<LoginLimiter>,
    pub(crate) sessions: Arc<SessionCache>,
    pub(crate) master: Arc<MasterKey>,
}

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state over a migrated store: creates the first signing
    /// key if there is none, loads the keys, and prepares the hasher.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: MasterKey,
    ) -> Result<Self, AppError> {
        let now = clock.now();
        tokens::ensure_signing_key(&*store, &master, now).await?;
        let keys = Keyring::load(
            &*store,
            master.clone(),
            config.server.issuer.clone(),
            config.server.audience.clone(),
            tokens::publish_for(config.sessions.access_ttl, config.keys.key_reload),
            now,
        )
        .await?;
        let hasher = PasswordHasher::new(
            config.passwords.argon2,
            config.passwords.hash_concurrency,
            config.passwords.hash_queue,
            config.passwords.hash_wait_ms,
        )
        .await?;
        Ok(Self {
            policy: Arc::new(PasswordPolicy::new(config.passwords.rules)),
            successor: Arc::new(SuccessorKey::new(master.derive("refresh-successor"))),
            limiter: Arc::new(LoginLimiter::new(
                config.throttle.login_max_failures,
                config.throttle.login_window,
                master.derive("login-throttle"),
            )),
            sessions: Arc::new(SessionCache::new(config.sessions.cache)),
            config: Arc::new(config),
            store,
            clock,
            keys: Arc::new(keys),
            hasher: Arc::new(hasher),
            master: Arc::new(master),
        })
    }

    /// The current time, from the state's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Rereads the signing keys (the server does this every `KEY_RELOAD`).
    pub async fn reload_keys(&self) -> Result<(), AppError> {
        self.keys.reload(&*self.store, self.now()).await
    }

    /// Retires the signing key and creates a new one; returns its kid.
    pub async fn rotate_keys(&self) -> Result<String, AppError> {
        let kid = tokens::rotate(&*self.store, &self.master, self.now()).await?;
        self.reload_keys().await?;
        Ok(kid)
    }

    /// Revokes a session (only the user's own, when `user_id` is given) and
    /// forgets it from the session cache at once.
    pub(crate) async fn revoke_session(
        &self,
        id: &str,
        user_id: Option<&str>,
        now: u64,
    ) -> Result<bool, AppError> {
        let revoked = self.store.revoke_session(id, user_id, now).await?;
        if revoked {
            self.sessions.forget(id);
        }
        Ok(revoked)
    }

    pub(crate) fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            refresh_ttl: self.config.sessions.refresh_ttl,
            lifetime: self.config.sessions.lifetime,
            grace: self.config.sessions.reuse_grace,
            max_sessions: self.config.sessions.max_per_user,
        }
    }
}
