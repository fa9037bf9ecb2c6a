//! The application state shared by every request: the configuration, the
//! clock, and the services of `auth`, built here from the configuration.

use std::sync::Arc;

use crate::{
    auth::{
        Accounts, Sessions,
        admin::CursorKey,
        audit::{self, AuditContext},
        limiter::{LoginLimiter, LoginLimits},
        mailer::Mailer,
        outbox::{Delivered, Outbox},
        password::{PasswordHasher, PasswordPolicy},
        purge,
        rates::{AddressRate, Rates},
        refresh::{SessionPolicy, SuccessorKey},
        revocations::{FeedPolicy, RevocationFeed},
        session_cache::SessionCache,
        sessions::TokenSettings,
        tokens::{self, KeyInfo, Keyring, Rotation},
    },
    clock::Clock,
    config::Config,
    error::AppError,
    secret::MasterKey,
    store::Store,
};

/// Everything a handler needs: configuration, clock, store and the
/// services. Cheap to clone (a few reference counts).
#[derive(Clone)]
pub struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) rates: Arc<Rates>,
    pub(crate) revocations: Arc<RevocationFeed>,
    /// Signs the admin API's list cursors.
    pub(crate) cursors: CursorKey,
    pub(crate) mailer: Arc<Mailer>,
    pub(crate) outbox: Arc<Outbox>,
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
        let keys = Arc::new(
            Keyring::load(
                &*store,
                master.clone(),
                config.server.issuer.clone(),
                config.server.audience.clone(),
                tokens::publish_for(config.sessions.access_ttl, config.keys.key_reload),
                now,
            )
            .await?,
        );
        let hasher = PasswordHasher::new(
            config.passwords.argon2,
            config.passwords.hash_concurrency,
            config.passwords.hash_queue,
            config.passwords.hash_wait_ms,
        )
        .await?;
        let accounts = Accounts::new(
            Arc::clone(&store),
            hasher,
            PasswordPolicy::new(config.passwords.rules),
            LoginLimiter::new(
                LoginLimits {
                    pair: config.throttle.login_max_failures,
                    address: config.throttle.login_address_max_failures,
                    account: config.throttle.login_account_max_failures,
                    window: config.throttle.login_window,
                },
                master.derive("login-throttle"),
            ),
        );
        let sessions = Sessions::new(
            Arc::clone(&store),
            SessionCache::new(config.sessions.cache),
            SuccessorKey::new(master.derive("refresh-successor")),
            SessionPolicy {
                refresh_ttl: config.sessions.refresh_ttl,
                lifetime: config.sessions.lifetime,
                grace: config.sessions.reuse_grace,
                max_sessions: config.sessions.max_per_user,
                max_per_minute: config.sessions.refresh_max_per_minute,
            },
            Arc::clone(&keys),
            TokenSettings {
                issuer: config.server.issuer.clone(),
                audience: config.server.audience.clone(),
                access_ttl: config.sessions.access_ttl,
            },
        );
        let rates = Rates {
            register: AddressRate::new("register", config.throttle.register_rate),
            token: AddressRate::new("token", config.throttle.token_rate),
            refresh: AddressRate::new("refresh", config.throttle.refresh_rate),
            mail: AddressRate::new("mail", config.mail.rate),
        };
        let mailer = Arc::new(Mailer::new(&config.mail).map_err(AppError::internal)?);
        let outbox = Arc::new(Outbox::new(
            Arc::clone(&store),
            Arc::clone(&mailer),
            Arc::clone(&clock),
            &config.mail,
        )?);
        let revocations = RevocationFeed::new(FeedPolicy::new(
            config.revocations.max_age,
            config.revocations.ttl,
            config.sessions.access_ttl,
        ));
        Ok(Self {
            cursors: CursorKey::new(master.derive("admin-cursor")),
            mailer,
            outbox,
            rates: Arc::new(rates),
            revocations: Arc::new(revocations),
            config: Arc::new(config),
            clock,
            store,
            accounts: Arc::new(accounts),
            sessions: Arc::new(sessions),
            keys,
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
        Ok(self.keys.reload(&*self.store, self.now()).await?)
    }

    /// Deletes the sessions that ended more than `SESSION_PURGE_AFTER` ago
    /// (the server does this every hour); returns how many went.
    pub async fn purge_ended_sessions(&self) -> Result<u64, AppError> {
        let after = self.config.sessions.purge_after;
        Ok(purge::ended_sessions(&*self.store, self.now(), after).await?)
    }

    /// Deletes the audit events older than `AUDIT_RETENTION` (the server
    /// does this every hour); returns how many went.
    pub async fn purge_audit(&self) -> Result<u64, AppError> {
        let retention = self.config.audit.retention;
        Ok(audit::purge(&*self.store, self.now(), retention).await?)
    }

    /// Publishes a new signing key that takes over after
    /// `KEY_PUBLISH_AHEAD` (`keys rotate`); its kid, or None when a key was
    /// already waiting to take over.
    pub async fn rotate_keys(&self) -> Result<Option<String>, AppError> {
        self.rotate_keys_by(&AuditContext::cli()).await
    }

    /// [`Self::rotate_keys`] on behalf of `ctx`, recorded as `key.rotated`
    /// in the key's transaction.
    pub(crate) async fn rotate_keys_by(
        &self,
        ctx: &AuditContext,
    ) -> Result<Option<String>, AppError> {
        let ahead = Rotation::Ahead(self.config.keys.publish_ahead);
        Ok(self
            .keys
            .rotate(&*self.store, ahead, ctx, self.now())
            .await?)
    }

    /// Replaces the signing key at once, deleting the current one (`keys
    /// rotate --now`, for a compromised key); the new kid.
    pub async fn rotate_keys_now(&self) -> Result<String, AppError> {
        let kid = self
            .keys
            .rotate(
                &*self.store,
                Rotation::Now,
                &AuditContext::cli(),
                self.now(),
            )
            .await?;
        kid.ok_or_else(|| AppError::Internal("the key was not replaced".into()))
    }

    /// The signing keys and their states now (`keys list`).
    pub async fn key_list(&self) -> Result<Vec<KeyInfo>, AppError> {
        Ok(tokens::list(&*self.store, self.publish_for(), self.now()).await?)
    }

    /// Rotates when `KEY_ROTATION_INTERVAL` says it is time (the server
    /// asks at every key reload); the new kid when it did. Of several
    /// instances asking at once, one rotates.
    pub async fn rotate_keys_if_due(&self) -> Result<Option<String>, AppError> {
        let interval = self.config.keys.rotation_interval;
        if interval == 0 || !tokens::rotation_due(&self.key_list().await?, interval, self.now()) {
            return Ok(None);
        }
        self.rotate_keys_by(&AuditContext::system()).await
    }

    /// Sends every queued mail that is due now (the server's sender does
    /// this whenever mail is queued, and every second); what it sent.
    pub async fn deliver_mail(&self) -> Result<Delivered, AppError> {
        Ok(self.outbox.deliver_due().await?)
    }

    /// The outbox sender, for `serve` to spawn: runs until aborted.
    pub fn mail_sender(&self) -> impl Future<Output = ()> + Send + 'static {
        Arc::clone(&self.outbox).run()
    }

    fn publish_for(&self) -> u64 {
        tokens::publish_for(self.config.sessions.access_ttl, self.config.keys.key_reload)
    }
}
