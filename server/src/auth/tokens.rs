//! Signing keys and access tokens: the key ring (signer + published keys),
//! minting through `edgeauth-core`'s `SigningKey`, and verifying the
//! server's own tokens with core's `Verifier`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use edgeauth_core::{
    Claims, DEFAULT_LEEWAY, KeyRefresh, KeyRefreshPolicy, KeySet, Need, Plan, ReuseWindow,
    SigningKey, Verifier, VerifyError,
};

use super::AuthError;
use crate::{
    secret::{MasterKey, b64, random, sha256},
    store::{Store, StoredKey},
};

/// The keys in force at one moment.
#[derive(Debug)]
struct Keys {
    signer: SigningKey,
    verifier: Verifier,
    jwks: String,
    /// When the published set next changes (a retired key drops out).
    next_change: u64,
}

/// What `keys list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// When it stopped signing.
    pub retired_at: Option<u64>,
    /// Until when it stays in the JWKS (None while it signs).
    pub published_until: Option<u64>,
    /// Whether it signs new tokens.
    pub signing: bool,
}

/// The signing key and the published key set, reloaded from the store when
/// the published set changes, periodically (for `keys rotate` run by another
/// process), and on an unknown `kid` (at most every few seconds).
#[derive(Debug)]
pub(crate) struct Keyring {
    keys: RwLock<Arc<Keys>>,
    master: MasterKey,
    issuer: String,
    audience: String,
    /// How long a retired key stays published after it stopped signing.
    publish_for: u64,
    /// When an unknown `kid` may reread the keys: the core's schedule.
    unknown_key_reload: Mutex<KeyRefresh>,
    /// Tokens that passed full verification, by SHA-256 of the token, with
    /// the core's reuse window, so a token presented again skips the
    /// Ed25519 check; cleared whenever the keys are reloaded.
    verified: Mutex<HashMap<[u8; 32], (Claims, ReuseWindow)>>,
}

/// Verified tokens remembered at most; the cache is emptied when full.
const MAX_VERIFIED: usize = 100_000;

/// The core's key refresh schedule with the server's parameters: an unknown
/// `kid` rereads the store (another instance may have rotated) at most every
/// 5 s. The store is local, so this can be much shorter than the JWKS
/// refetch interval of the gate and the npm package.
const UNKNOWN_KEY_RELOAD: KeyRefreshPolicy = KeyRefreshPolicy::DEFAULT
    .with_refetch_interval_ms(5_000)
    .with_cold_retry_ms(5_000);

/// Seconds a retired key stays published: the access TTL, the verifiers'
/// leeway, and the reload interval (a server may sign with the old key
/// until it next reloads).
pub(crate) fn publish_for(access_ttl: u64, key_reload: u64) -> u64 {
    access_ttl + DEFAULT_LEEWAY + key_reload
}

/// A new key, sealed under the master key.
fn new_key(master: &MasterKey, now: u64) -> Result<StoredKey, AuthError> {
    let kid_bytes: [u8; 12] = random()?;
    let kid = b64(&kid_bytes);
    let seed: [u8; 32] = random()?;
    let key = SigningKey::from_seed(kid.clone(), &seed);
    Ok(StoredKey {
        sealed_seed: master.seal(&kid, &seed)?,
        public_key: key.public_key().to_vec(),
        kid,
        created_at: now,
        retired_at: None,
    })
}

/// Creates the first signing key if there is none. Safe against another
/// process doing the same at once (the insert is conditional).
pub(crate) async fn ensure_signing_key(
    store: &dyn Store,
    master: &MasterKey,
    now: u64,
) -> Result<(), AuthError> {
    if store
        .signing_keys()
        .await?
        .iter()
        .any(|k| k.retired_at.is_none())
    {
        return Ok(());
    }
    let key = new_key(master, now)?;
    if store.insert_first_key(&key).await? {
        tracing::info!(kid = %key.kid, "created the first signing key");
    }
    Ok(())
}

/// Retires the signing key and creates a new one; returns the new kid.
pub(crate) async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    now: u64,
) -> Result<String, AuthError> {
    let key = new_key(master, now)?;
    store.rotate_key(&key, now).await?;
    Ok(key.kid)
}

/// Every key with its state.
pub(crate) async fn list(store: &dyn Store, publish_for: u64) -> Result<Vec<KeyInfo>, AuthError> {
    let keys = store.signing_keys().await?;
    let signer = keys
        .iter()
        .find(|k| k.retired_at.is_none())
        .map(|k| k.kid.clone());
    Ok(keys
        .into_iter()
        .map(|k| KeyInfo {
            signing: signer.as_deref() == Some(k.kid.as_str()),
            published_until: k.retired_at.map(|r| r.saturating_add(publish_for)),
            kid: k.kid,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

impl Keyring {
    /// Loads the keys; the store must hold an active key
    /// ([`ensure_signing_key`]).
    pub(crate) async fn load(
        store: &dyn Store,
        master: MasterKey,
        issuer: String,
        audience: String,
        publish_for: u64,
        now: u64,
    ) -> Result<Self, AuthError> {
        let keys = Self::read(store, &master, &issuer, &audience, publish_for, now).await?;
        Ok(Self {
            keys: RwLock::new(Arc::new(keys)),
            master,
            issuer,
            audience,
            publish_for,
            unknown_key_reload: Mutex::new(KeyRefresh::new(UNKNOWN_KEY_RELOAD)),
            verified: Mutex::new(HashMap::new()),
        })
    }

    async fn read(
        store: &dyn Store,
        master: &MasterKey,
        issuer: &str,
        audience: &str,
        publish_for: u64,
        now: u64,
    ) -> Result<Keys, AuthError> {
        let stored = store.signing_keys().await?;
        let mut set = KeySet::new();
        let mut signer = None;
        let mut next_change = u64::MAX;
        for key in &stored {
            let until = key.retired_at.map(|r| r.saturating_add(publish_for));
            if until.is_some_and(|until| now >= until) {
                continue;
            }
            if let Some(until) = until {
                next_change = next_change.min(until);
            }
            let public: [u8; 32] = key.public_key.as_slice().try_into().map_err(|_| {
                AuthError::internal(format!("signing key {} has a bad public key", key.kid))
            })?;
            set.insert(key.kid.clone(), &public)
                .map_err(|e| AuthError::internal(format!("signing key {}: {e}", key.kid)))?;
            if key.retired_at.is_none() && signer.is_none() {
                let seed = master.open(&key.kid, &key.sealed_seed).map_err(|_| {
                    AuthError::internal(format!(
                        "EDGEAUTH_MASTER_KEY does not decrypt signing key {} (is it the key this database was created with?)",
                        key.kid
                    ))
                })?;
                let seed: [u8; 32] = seed
                    .as_slice()
                    .try_into()
                    .map_err(|_| AuthError::internal("a signing key seed is not 32 bytes"))?;
                let signing = SigningKey::from_seed(key.kid.clone(), &seed);
                if signing.public_key() != public {
                    return Err(AuthError::internal(format!(
                        "signing key {} does not match its public key",
                        key.kid
                    )));
                }
                signer = Some(signing);
            }
        }
        let signer = signer.ok_or_else(|| AuthError::internal("no active signing key"))?;
        Ok(Keys {
            signer,
            jwks: set.to_jwks(),
            verifier: Verifier::new(set, issuer, audience),
            next_change,
        })
    }

    fn current(&self) -> Arc<Keys> {
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Rereads the keys from the store.
    pub(crate) async fn reload(&self, store: &dyn Store, now: u64) -> Result<(), AuthError> {
        let keys = Self::read(
            store,
            &self.master,
            &self.issuer,
            &self.audience,
            self.publish_for,
            now,
        )
        .await?;
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        self.verified_cache().clear();
        Ok(())
    }

    /// Retires the signing key, creates a new one and reloads; returns the
    /// new kid (`keys rotate`).
    pub(crate) async fn rotate(&self, store: &dyn Store, now: u64) -> Result<String, AuthError> {
        let kid = rotate(store, &self.master, now).await?;
        self.reload(store, now).await?;
        Ok(kid)
    }

    async fn fresh(&self, store: &dyn Store, now: u64) -> Result<Arc<Keys>, AuthError> {
        let keys = self.current();
        if now < keys.next_change {
            return Ok(keys);
        }
        self.reload(store, now).await?;
        Ok(self.current())
    }

    /// The published keys as a JWKS document.
    pub(crate) async fn jwks(&self, store: &dyn Store, now: u64) -> Result<String, AuthError> {
        Ok(self.fresh(store, now).await?.jwks.clone())
    }

    /// Signs claims with the current signing key.
    pub(crate) fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        self.current()
            .signer
            .sign(claims)
            .map_err(|e| AuthError::internal(format!("signing: {e}")))
    }

    fn verified_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Claims, ReuseWindow)>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Verifies one of our access tokens at `now`: with core's `Verifier`
    /// the first time, from the cache of verified tokens after that.
    pub(crate) async fn verify(
        &self,
        store: &dyn Store,
        token: &str,
        now: u64,
    ) -> Result<Claims, AuthError> {
        let keys = self.fresh(store, now).await?;
        let digest = sha256(token.as_bytes());
        let cached = self.verified_cache().get(&digest).cloned();
        if let Some((claims, window)) = cached {
            // The core's reuse window: steps 8 and 9, the only ones whose
            // answer changes with time.
            window.check(now).map_err(AuthError::InvalidToken)?;
            return Ok(claims);
        }
        let (claims, window) = self.verify_fully(store, &keys, token, now).await?;
        let mut cache = self.verified_cache();
        if cache.len() >= MAX_VERIFIED {
            cache.clear();
        }
        cache.insert(digest, (claims.clone(), window));
        Ok(claims)
    }

    async fn verify_fully(
        &self,
        store: &dyn Store,
        keys: &Keys,
        token: &str,
        now: u64,
    ) -> Result<(Claims, ReuseWindow), AuthError> {
        let with_window = |verifier: &Verifier, claims: Claims| {
            let window = verifier.reuse_window(&claims);
            (claims, window)
        };
        match keys.verifier.verify(token, now) {
            Err(VerifyError::UnknownKey) => {
                // Another instance may have rotated: reread, when the
                // schedule allows (one reload at a time, at most every 5 s).
                let now_ms = now.saturating_mul(1000);
                let ticket = {
                    let mut schedule = self.unknown_key_schedule();
                    match schedule.plan(Need::UnknownKey, now_ms) {
                        Plan::Start => schedule.started(now_ms),
                        Plan::Wait | Plan::Skip => {
                            return Err(AuthError::InvalidToken(VerifyError::UnknownKey));
                        }
                    }
                };
                let reloaded = self.reload(store, now).await;
                {
                    let mut schedule = self.unknown_key_schedule();
                    match &reloaded {
                        Ok(()) => schedule.succeeded(ticket, now_ms, None),
                        Err(_) => schedule.failed(ticket),
                    }
                }
                reloaded?;
                let keys = self.current();
                keys.verifier
                    .verify(token, now)
                    .map(|claims| with_window(&keys.verifier, claims))
                    .map_err(AuthError::InvalidToken)
            }
            other => other
                .map(|claims| with_window(&keys.verifier, claims))
                .map_err(AuthError::InvalidToken),
        }
    }

    fn unknown_key_schedule(&self) -> std::sync::MutexGuard<'_, KeyRefresh> {
        self.unknown_key_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
