//! Passwords: the policy (NIST SP 800-63B spirit) and argon2id hashing off
//! the async executor, bounded.

use std::{
    collections::HashSet,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _,
    PasswordVerifier as _, Version,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use unicode_normalization::UnicodeNormalization as _;

use super::AuthError;
use crate::{
    config::{Argon2Costs, PasswordRules},
    secret::{SecretString, random},
};

/// The bundled list of common passwords (8 characters or more).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// A password longer than this many bytes is refused before any work, at
/// login too (4 bytes per character of the largest allowed maximum).
const MAX_BYTES: usize = 4 * 1024;

/// Checks new passwords against the configured rules.
#[derive(Debug, Clone)]
pub(crate) struct PasswordPolicy {
    rules: PasswordRules,
}

impl PasswordPolicy {
    pub(crate) fn new(rules: PasswordRules) -> Self {
        Self { rules }
    }

    /// Normalises (NFKC) and checks a new password; on success returns
    /// the normalised password, which is what gets hashed. On failure lists
    /// every rule that failed, by stable name.
    pub(crate) fn check(
        &self,
        password: &SecretString,
        email: &str,
    ) -> Result<SecretString, Vec<&'static str>> {
        let raw = password.expose();
        let normalized = normalize(raw);
        let text = normalized.expose();
        let length = text.chars().count();
        let mut failed = Vec::new();
        if length < self.rules.min_length {
            failed.push("too_short");
        }
        if length > self.rules.max_length || raw.len() > MAX_BYTES {
            failed.push("too_long");
        }
        let lower = text.to_lowercase();
        if COMMON.contains(lower.as_str()) {
            failed.push("common_password");
        }
        let local = email
            .rsplit_once('@')
            .map_or(email, |(local, _)| local)
            .to_lowercase();
        if local.chars().count() >= 3 && lower.contains(&local) {
            failed.push("contains_email");
        }
        if !lower.is_empty() && lower.chars().all(|c| lower.starts_with(c)) {
            failed.push("repeated_character");
        }
        if self.rules.require_classes > 0 {
            let classes = [
                text.chars().any(char::is_lowercase),
                text.chars().any(char::is_uppercase),
                text.chars().any(|c| c.is_ascii_digit()),
                text.chars().any(|c| !c.is_alphanumeric()),
            ];
            if classes.iter().filter(|c| **c).count() < self.rules.require_classes {
                failed.push("character_classes");
            }
        }
        if failed.is_empty() {
            Ok(normalized)
        } else {
            Err(failed)
        }
    }
}

/// NFKC, so the same password typed on different keyboards hashes alike.
pub(crate) fn normalize(password: &str) -> SecretString {
    SecretString::new(password.nfkc().collect::<String>())
}

/// The outcome of a password check at login.
#[derive(Debug)]
pub(crate) struct Verified {
    /// Whether the password matched.
    pub(crate) ok: bool,
    /// A new hash with the current parameters, when the stored one used
    /// other parameters (rehash on login).
    pub(crate) rehash: Option<String>,
}

/// A reserved hashing slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct HashSlot(#[allow(dead_code, reason = "held, not read")] OwnedSemaphorePermit);

/// argon2id with bounded concurrency: at most `concurrency` hashes run at
/// once on blocking threads, at most `queue` requests wait, each at most
/// `wait`; beyond that, callers get [`AuthError::Busy`] at once.
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    params: Params,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait: core::time::Duration,
    dummy: String,
    /// argon2 verifications performed, for unknown accounts too.
    verifications: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// A hasher; computes the dummy hash used for unknown emails.
    pub(crate) async fn new(
        costs: Argon2Costs,
        concurrency: usize,
        queue: usize,
        wait_ms: u64,
    ) -> Result<Self, AuthError> {
        let params = Params::new(
            costs.memory_kib,
            costs.iterations,
            costs.parallelism,
            Some(Params::DEFAULT_OUTPUT_LEN),
        )
        .map_err(|e| AuthError::internal(format!("argon2 parameters: {e}")))?;
        let mut hasher = Self {
            params,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            wait: core::time::Duration::from_millis(wait_ms),
            dummy: String::new(),
            verifications: Arc::new(AtomicU64::new(0)),
        };
        let dummy_password: [u8; 24] = random()?;
        let slot = hasher.slot().await?;
        hasher.dummy = hasher
            .hash(slot, SecretString::new(crate::secret::b64(&dummy_password)))
            .await?;
        Ok(hasher)
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// How many argon2 verifications this hasher has performed.
    #[cfg(test)]
    pub(crate) fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Waits for a hashing slot, or refuses at once with
    /// [`AuthError::Busy`] when too many already wait or the wait is too
    /// long. Taken before any other work of a login, so that shedding a
    /// flood costs next to nothing.
    pub(crate) async fn slot(&self) -> Result<HashSlot, AuthError> {
        let started = std::time::Instant::now();
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = if queued >= self.queue && self.slots.available_permits() == 0 {
            None
        } else {
            tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::hash_slot(started.elapsed(), permit.is_some());
        permit.map(HashSlot).ok_or(AuthError::Busy(1))
    }

    /// Runs `work` on a blocking thread, holding the slot until it is done.
    async fn run<T: Send + 'static>(
        slot: HashSlot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(slot);
            out
        })
        .await
        .map_err(AuthError::internal)
    }

    /// Hashes an (already normalised) password with the current parameters.
    pub(crate) async fn hash(
        &self,
        slot: HashSlot,
        password: SecretString,
    ) -> Result<String, AuthError> {
        let params = self.params.clone();
        let salt: [u8; 16] = random()?;
        Self::run(slot, move || {
            Self::argon2(params)
                .hash_password_with_salt(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| AuthError::internal(format!("argon2: {e}")))
    }

    /// Verifies a login password against a stored hash, or against the
    /// dummy hash when the user does not exist (same work either way).
    pub(crate) async fn verify(
        &self,
        slot: HashSlot,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<Verified, AuthError> {
        if password.expose().len() > MAX_BYTES {
            return Ok(Verified {
                ok: false,
                rehash: None,
            });
        }
        let normalized = normalize(password.expose());
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy).to_owned();
        let current = self.params.clone();
        let salt: [u8; 16] = random()?;
        let verifications = Arc::clone(&self.verifications);
        Self::run(slot, move || {
            let password = normalized.expose().as_bytes();
            // An imported bcrypt, scrypt or PBKDF2 hash is checked with its
            // own function, and always replaced by argon2id once it matches.
            let (ok, outdated) = match super::imported::verify(password, &stored) {
                Some(matched) => (matched & exists, true),
                None => {
                    let Ok(parsed) = PasswordHash::new(&stored) else {
                        return Verified {
                            ok: false,
                            rehash: None,
                        };
                    };
                    // The hash is checked first and unconditionally: an
                    // unknown account must cost the same argon2 work as a
                    // wrong password.
                    verifications.fetch_add(1, Ordering::Relaxed);
                    let matched = Self::argon2(current.clone())
                        .verify_password(password, &parsed)
                        .is_ok();
                    let outdated = parsed.algorithm != ARGON2ID_IDENT
                        || Params::try_from(&parsed).map_or(true, |p| {
                            (p.m_cost(), p.t_cost(), p.p_cost())
                                != (current.m_cost(), current.t_cost(), current.p_cost())
                        });
                    (matched & exists, outdated)
                }
            };
            let rehash = (ok && outdated)
                .then(|| {
                    Self::argon2(current)
                        .hash_password_with_salt(password, &salt)
                        .ok()
                        .map(|h| h.to_string())
                })
                .flatten();
            Verified { ok, rehash }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::new(PasswordRules {
            min_length: 8,
            max_length: 64,
            require_classes: 0,
        })
    }

    fn failed(password: &str, email: &str) -> Vec<&'static str> {
        policy()
            .check(&SecretString::new(password), email)
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn rules_list_every_failure() {
        assert_eq!(failed("short", "a@b.c"), ["too_short"]);
        assert_eq!(failed("password1", "a@b.c"), ["common_password"]);
        assert_eq!(failed("PassWord1", "a@b.c"), ["common_password"]);
        assert_eq!(
            failed("alice-rocks-1", "alice@example.com"),
            ["contains_email"]
        );
        assert!(failed("qqqqqqqqqqqqqqqqq", "x@y.z").contains(&"repeated_character"));
        assert_eq!(
            failed(&"x".repeat(65), "a@b.c"),
            ["too_long", "repeated_character"]
        );
        assert!(failed("correct horse battery staple", "a@b.c").is_empty());
        // 64 characters are allowed and never truncated.
        assert!(failed(&"ab1-".repeat(16), "a@b.c").is_empty());
    }

    #[test]
    fn nfkc_before_length_and_hashing() {
        // U+FB01 (ﬁ ligature) normalises to "fi".
        let ok = policy()
            .check(&SecretString::new("\u{FB01}ne-tuned-zebra"), "a@b.c")
            .unwrap();
        assert_eq!(ok.expose(), "fine-tuned-zebra");
    }

    #[test]
    fn character_classes_are_optional() {
        let strict = PasswordPolicy::new(PasswordRules {
            min_length: 8,
            max_length: 64,
            require_classes: 3,
        });
        assert_eq!(
            strict
                .check(&SecretString::new("lowercase only words"), "a@b.c")
                .unwrap_err(),
            ["character_classes"]
        );
        assert!(
            strict
                .check(&SecretString::new("Mixed case 123"), "a@b.c")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn hash_verify_and_rehash_on_new_params() {
        let cheap = Argon2Costs {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let old = PasswordHasher::new(cheap, 1, 4, 1000).await.unwrap();
        let hash = old
            .hash(old.slot().await.unwrap(), normalize("a long password"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let same = old
            .verify(
                old.slot().await.unwrap(),
                &SecretString::new("a long password"),
                Some(&hash),
            )
            .await
            .unwrap();
        assert!(same.ok && same.rehash.is_none());
        let wrong = old
            .verify(
                old.slot().await.unwrap(),
                &SecretString::new("a long passworD"),
                Some(&hash),
            )
            .await
            .unwrap();
        assert!(!wrong.ok);
        let dummy = old
            .verify(
                old.slot().await.unwrap(),
                &SecretString::new("a long password"),
                None,
            )
            .await
            .unwrap();
        assert!(!dummy.ok);
        // An unknown account costs one real argon2 verification, exactly
        // like a wrong password (the login timing must not tell them apart).
        let before = old.verifications();
        for stored in [None, Some(hash.as_str())] {
            old.verify(
                old.slot().await.unwrap(),
                &SecretString::new("not the password"),
                stored,
            )
            .await
            .unwrap();
        }
        assert_eq!(old.verifications() - before, 2);
        let newer = PasswordHasher::new(
            Argon2Costs {
                memory_kib: 128,
                ..cheap
            },
            1,
            4,
            1000,
        )
        .await
        .unwrap();
        let upgraded = newer
            .verify(
                newer.slot().await.unwrap(),
                &SecretString::new("a long password"),
                Some(&hash),
            )
            .await
            .unwrap();
        assert!(upgraded.ok);
        assert!(upgraded.rehash.unwrap().contains("m=128"));
    }

    #[tokio::test]
    async fn saturation_sheds_with_busy_instead_of_queueing() {
        let cheap = Argon2Costs {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        for (queue, wait_ms) in [(0, 1000), (4, 20)] {
            let hasher = Arc::new(PasswordHasher::new(cheap, 1, queue, wait_ms).await.unwrap());
            let (release, blocked) = std::sync::mpsc::channel::<()>();
            let held = hasher.slot().await.unwrap();
            let holder = tokio::spawn(PasswordHasher::run(held, move || {
                let _ = blocked.recv();
            }));
            let refused = hasher.slot().await;
            assert!(matches!(refused, Err(AuthError::Busy(1))), "{refused:?}");
            release.send(()).unwrap();
            holder.await.unwrap().unwrap();
            let slot = hasher.slot().await.unwrap();
            assert!(
                hasher
                    .hash(slot, normalize("a long password"))
                    .await
                    .is_ok()
            );
        }
    }
}
