//! Signing keys and access tokens: the key ring (signer + published keys),
//! minting through `edgeauth-core`'s `SigningKey`, and verifying the
//! server's own tokens with core's `Verifier`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use edgeauth_core::{
    Claims, DEFAULT_LEEWAY, KeyRefresh, KeyRefreshPolicy, KeySet, Need, Plan, ReuseWindow,
    Revocations, SigningKey, Verifier, VerifyError,
};

use super::{
    AuthError,
    audit::{self, AuditContext, EventType},
};
use crate::{
    secret::{MasterKey, b64, random, sha256},
    store::{Store, StoredKey},
};

/// The keys in force at one moment.
#[derive(Debug)]
struct Keys {
    signer: SigningKey,
    /// The key published ahead, and when it takes over signing.
    next: Option<(u64, SigningKey)>,
    verifier: Verifier,
    jwks: String,
    /// When the published set or the signer next changes (a waiting key
    /// starts signing, a retired key drops out).
    next_change: u64,
}

/// Where a key is in its life: `next` -> `current` -> `retired` -> gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// The signer.
    Current,
    /// No longer signing; published until its last token has expired.
    Retired,
    /// No longer published.
    Gone,
}

impl KeyState {
    /// The state's name, as `keys list` prints it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
            Self::Gone => "gone",
        }
    }

    /// A stored key's state at `now`, given how long a retired key stays
    /// published.
    fn of(key: &StoredKey, now: u64, publish_for: u64) -> Self {
        match key.retired_at {
            _ if now < key.activates_at => Self::Next,
            Some(retired) if now >= retired.saturating_add(publish_for) => Self::Gone,
            Some(retired) if now >= retired => Self::Retired,
            _ => Self::Current,
        }
    }
}

/// What `keys list` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Its state now.
    pub state: KeyState,
    /// When it was made (and published).
    pub created_at: u64,
    /// When it starts (or started) signing.
    pub activates_at: u64,
    /// When it stops (or stopped) signing.
    pub retired_at: Option<u64>,
    /// Until when it stays in the JWKS, once it has a retirement.
    pub published_until: Option<u64>,
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

/// A new key, sealed under the master key, signing from `activates_at`.
fn new_key(master: &MasterKey, now: u64, activates_at: u64) -> Result<StoredKey, AuthError> {
    let kid_bytes: [u8; 12] = random()?;
    let kid = b64(&kid_bytes);
    let seed: [u8; 32] = random()?;
    let key = SigningKey::from_seed(kid.clone(), &seed);
    Ok(StoredKey {
        sealed_seed: master.seal(&kid, &seed)?,
        public_key: key.public_key().to_vec(),
        kid,
        created_at: now,
        activates_at,
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
    let key = new_key(master, now, now)?;
    if store.insert_first_key(&key).await? {
        tracing::info!(kid = %key.kid, "created the first signing key");
    }
    Ok(())
}

/// How a rotation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// The new key is published now and signs `ahead` seconds later; the
    /// current key retires then. Nothing happens when a key already waits.
    Ahead(u64),
    /// A compromised key: the new key signs now, and the current (and any
    /// waiting) key is deleted, so it leaves the JWKS at once.
    Now,
}

/// A new signing key, scheduled as `how` says; its kid, or None when a key
/// was already waiting to take over.
/// The rotation is recorded as `key.rotated` on behalf of `ctx`, in the
/// key's transaction.
pub(crate) async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    how: Rotation,
    ctx: &AuditContext,
    now: u64,
) -> Result<Option<String>, AuthError> {
    let (key, detail) = match how {
        Rotation::Ahead(ahead) => (new_key(master, now, now.saturating_add(ahead))?, "ahead"),
        Rotation::Now => (new_key(master, now, now)?, "now"),
    };
    let event = ctx.event(
        EventType::KeyRotated,
        Some(&key.kid),
        serde_json::json!({ "how": detail }),
        now,
    )?;
    let rotated = match how {
        Rotation::Ahead(_) => store.schedule_key(&key, now, Some(&event)).await?,
        Rotation::Now => {
            store.replace_keys_now(&key, now, Some(&event)).await?;
            true
        }
    };
    if rotated {
        audit::log(&event);
    }
    Ok(rotated.then_some(key.kid))
}

/// Every key with its state at `now`, newest first.
pub(crate) async fn list(
    store: &dyn Store,
    publish_for: u64,
    now: u64,
) -> Result<Vec<KeyInfo>, AuthError> {
    Ok(store
        .signing_keys()
        .await?
        .into_iter()
        .map(|k| KeyInfo {
            state: KeyState::of(&k, now, publish_for),
            published_until: k.retired_at.map(|r| r.saturating_add(publish_for)),
            kid: k.kid,
            created_at: k.created_at,
            activates_at: k.activates_at,
            retired_at: k.retired_at,
        })
        .collect())
}

/// Whether a scheduled rotation is due: the current key has signed for
/// `interval` seconds (0: never).
pub(crate) fn rotation_due(keys: &[KeyInfo], interval: u64, now: u64) -> bool {
    interval > 0
        && !keys.iter().any(|k| k.state == KeyState::Next)
        && keys
            .iter()
            .find(|k| k.state == KeyState::Current)
            .is_some_and(|k| now >= k.activates_at.saturating_add(interval))
}

/// A stored key's seed, opened with the master key and checked against its
/// public key.
fn open_key(
    master: &MasterKey,
    key: &StoredKey,
    public: &[u8; 32],
) -> Result<SigningKey, AuthError> {
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
    if signing.public_key() != *public {
        return Err(AuthError::internal(format!(
            "signing key {} does not match its public key",
            key.kid
        )));
    }
    Ok(signing)
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
        let (mut signer, mut next) = (None, None);
        let mut next_change = u64::MAX;
        for key in &stored {
            let state = KeyState::of(key, now, publish_for);
            let changes = match state {
                KeyState::Gone => continue,
                KeyState::Next => Some(key.activates_at),
                KeyState::Current => key.retired_at,
                KeyState::Retired => key.retired_at.map(|r| r.saturating_add(publish_for)),
            };
            next_change = next_change.min(changes.unwrap_or(u64::MAX));
            let public: [u8; 32] = key.public_key.as_slice().try_into().map_err(|_| {
                AuthError::internal(format!("signing key {} has a bad public key", key.kid))
            })?;
            set.insert(key.kid.clone(), &public)
                .map_err(|e| AuthError::internal(format!("signing key {}: {e}", key.kid)))?;
            match state {
                KeyState::Current if signer.is_none() => {
                    signer = Some(open_key(master, key, &public)?);
                }
                KeyState::Next if next.is_none() => {
                    next = Some((key.activates_at, open_key(master, key, &public)?));
                }
                _ => {}
            }
        }
        let signer = signer.ok_or_else(|| AuthError::internal("no active signing key"))?;
        Ok(Keys {
            signer,
            next,
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

    /// A new signing key, as `how` says, then a reload; its kid, or None
    /// when a key was already waiting (`keys rotate`, and the schedule).
    pub(crate) async fn rotate(
        &self,
        store: &dyn Store,
        how: Rotation,
        ctx: &AuditContext,
        now: u64,
    ) -> Result<Option<String>, AuthError> {
        let kid = rotate(store, &self.master, how, ctx, now).await?;
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

    /// The key that signs at `now`: the current key, or the next one once
    /// its time has come (before any reload).
    fn signer_at(&self, now: u64) -> SigningKey {
        let keys = self.current();
        match &keys.next {
            Some((from, next)) if now >= *from => next.clone(),
            _ => keys.signer.clone(),
        }
    }

    /// Signs claims with the key that signs at their `iat`.
    pub(crate) fn mint(&self, claims: &Claims) -> Result<String, AuthError> {
        self.signer_at(claims.iat)
            .sign(claims)
            .map_err(|e| AuthError::internal(format!("signing: {e}")))
    }

    /// Signs a revocation feed of `sids` at `now`, acceptable until
    /// `expires_at`, with the key that signs at `now`.
    pub(crate) fn sign_revocations(&self, now: u64, expires_at: u64, sids: &[String]) -> String {
        Revocations::sign(&self.signer_at(now), &self.issuer, now, expires_at, sids)
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
