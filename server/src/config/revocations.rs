//! The revocation feed: how long its answers may be cached, how long a
//! feed stays acceptable.

use super::{ConfigError, raw::Raw};

/// The feed's two lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationSettings {
    /// `EDGEAUTH_REVOCATIONS_MAX_AGE`: how long a built feed is served (and
    /// may be cached, `Cache-Control: max-age`), default 5, 1s..=5m. A
    /// revocation reaches the verifiers within this plus one request.
    pub max_age: u64,
    /// `EDGEAUTH_REVOCATIONS_TTL`: a feed's `exp - iat`, how long a
    /// verifier may rely on it, default 300 (5m); longer than
    /// `EDGEAUTH_REVOCATIONS_MAX_AGE`.
    pub ttl: u64,
}

impl RevocationSettings {
    pub(super) fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        let max_age = raw.duration_secs("REVOCATIONS_MAX_AGE", 5)?;
        if !(1..=300).contains(&max_age) {
            return Err(ConfigError::new(
                "REVOCATIONS_MAX_AGE",
                format!("must be between 1s and 5m, got {max_age}s"),
            ));
        }
        let ttl = raw.duration_secs("REVOCATIONS_TTL", 300)?;
        if ttl <= max_age {
            return Err(ConfigError::new(
                "REVOCATIONS_TTL",
                "must be longer than EDGEAUTH_REVOCATIONS_MAX_AGE",
            ));
        }
        Ok(Self { max_age, ttl })
    }
}
