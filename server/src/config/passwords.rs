//! Passwords: argon2id costs, how many hashes run and wait at once, and the
//! rules a new password must meet.

use super::{ConfigError, Mode, raw::Raw};

/// How passwords are hashed and what they must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordSettings {
    /// `EDGEAUTH_ARGON2_MEMORY_KIB`, `EDGEAUTH_ARGON2_ITERATIONS`,
    /// `EDGEAUTH_ARGON2_PARALLELISM`; below the floor only in test mode.
    pub argon2: Argon2Costs,
    /// `EDGEAUTH_HASH_CONCURRENCY`: argon2 hashes at once, default the core
    /// count, 1..=1024.
    pub hash_concurrency: usize,
    /// `EDGEAUTH_HASH_QUEUE`: requests that may wait for a hashing slot,
    /// default 8 per slot, 0..=100000; more are refused at once with 503
    /// and Retry-After.
    pub hash_queue: usize,
    /// `EDGEAUTH_HASH_WAIT`: longest wait for a hashing slot in milliseconds
    /// (default 500ms), then 503 with Retry-After.
    pub hash_wait_ms: u64,
    /// `EDGEAUTH_PASSWORD_MIN_LENGTH`, `EDGEAUTH_PASSWORD_MAX_LENGTH`,
    /// `EDGEAUTH_PASSWORD_REQUIRE_CLASSES`.
    pub rules: PasswordRules,
}

impl PasswordSettings {
    pub(super) fn read(raw: &mut Raw, mode: Mode) -> Result<Self, ConfigError> {
        let argon2 = Argon2Costs {
            memory_kib: raw.number(
                "ARGON2_MEMORY_KIB",
                Argon2Costs::OWASP.memory_kib,
                8..=4 * 1024 * 1024,
            )?,
            iterations: raw.number("ARGON2_ITERATIONS", Argon2Costs::OWASP.iterations, 1..=64)?,
            parallelism: raw.number(
                "ARGON2_PARALLELISM",
                Argon2Costs::OWASP.parallelism,
                1..=64,
            )?,
        };
        if mode != Mode::Test
            && let Some(setting) = argon2.below_floor()
        {
            return Err(ConfigError::new(
                setting,
                "puts argon2 below its floor (memory >= 7168 KiB and memory x iterations >= 35840; OWASP recommends 19456 KiB, t=2)",
            ));
        }
        let cores = std::thread::available_parallelism().map_or(2, core::num::NonZeroUsize::get);
        let hash_concurrency = raw.number("HASH_CONCURRENCY", cores, 1..=1024)?;
        Ok(Self {
            argon2,
            hash_concurrency,
            hash_queue: raw.number("HASH_QUEUE", hash_concurrency * 8, 0..=100_000)?,
            hash_wait_ms: raw.duration_ms("HASH_WAIT", 500)?,
            rules: PasswordRules {
                min_length: raw.number("PASSWORD_MIN_LENGTH", 8, 8..=64)?,
                max_length: raw.number("PASSWORD_MAX_LENGTH", 256, 64..=1024)?,
                require_classes: raw.number("PASSWORD_REQUIRE_CLASSES", 0, 0..=4)?,
            },
        })
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Costs {
    /// Memory in KiB (`EDGEAUTH_ARGON2_MEMORY_KIB`, default 19456 = 19 MiB,
    /// 8..=4194304).
    pub memory_kib: u32,
    /// Iterations (`EDGEAUTH_ARGON2_ITERATIONS`, default 2, 1..=64).
    pub iterations: u32,
    /// Lanes (`EDGEAUTH_ARGON2_PARALLELISM`, default 1, 1..=64).
    pub parallelism: u32,
}

impl Argon2Costs {
    /// OWASP's recommendation: 19 MiB, t=2, p=1.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The floor outside test mode, from OWASP's equivalent configurations
    /// (19 MiB t=2, 12 MiB t=3, 9 MiB t=4, 7 MiB t=5): memory >= 7 MiB and
    /// memory x iterations >= 7 MiB x 5. Returns the setting to raise.
    fn below_floor(self) -> Option<&'static str> {
        if self.memory_kib < 7 * 1024 {
            return Some("EDGEAUTH_ARGON2_MEMORY_KIB");
        }
        if u64::from(self.memory_kib) * u64::from(self.iterations) < 35 * 1024 {
            return Some("EDGEAUTH_ARGON2_ITERATIONS");
        }
        None
    }
}

/// Password rules (NIST SP 800-63B spirit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    /// Minimum length in characters after NFKC
    /// (`EDGEAUTH_PASSWORD_MIN_LENGTH`, default 8, 8..=64).
    pub min_length: usize,
    /// Maximum length in characters (`EDGEAUTH_PASSWORD_MAX_LENGTH`,
    /// default 256, 64..=1024).
    pub max_length: usize,
    /// Character classes required among lower, upper, digit, other
    /// (`EDGEAUTH_PASSWORD_REQUIRE_CLASSES`, default 0 = off, 0..=4).
    pub require_classes: usize,
}
