//! Sessions: token lifetimes, refresh rotation, how many per user, how long
//! this process may trust a session it found live.

use super::{Backend, ConfigError, raw::Raw};

/// Token and session lifetimes, all in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// `EDGEAUTH_ACCESS_TTL`: access-token lifetime, default 900 (15m),
    /// 1m..=1d.
    pub access_ttl: u64,
    /// `EDGEAUTH_REFRESH_TTL`: sliding refresh-token lifetime, default 14
    /// days; longer than `EDGEAUTH_ACCESS_TTL`.
    pub refresh_ttl: u64,
    /// `EDGEAUTH_SESSION_LIFETIME`: absolute session lifetime, default 90
    /// days; at least `EDGEAUTH_REFRESH_TTL`.
    pub lifetime: u64,
    /// `EDGEAUTH_REFRESH_REUSE_GRACE`: how long a just-rotated refresh token
    /// still answers, default 10, at most 5m; 0 = strict.
    pub reuse_grace: u64,
    /// `EDGEAUTH_MAX_SESSIONS` per user, default 10, 1..=1000; the least
    /// recently used goes.
    pub max_per_user: u32,
    /// `EDGEAUTH_SESSION_CACHE`: how long this process may trust a session
    /// it found live. Its own revocations apply at once; another instance's
    /// only when the entry ages out. Default 30 on SQLite and 0 (off) on
    /// PostgreSQL, where several instances share the database.
    pub cache: u64,
    /// `EDGEAUTH_REFRESH_MAX_PER_MINUTE`: new refresh tokens one session
    /// may get within any minute (its rotations, the sign-in's token
    /// included), default 60, 0 = no cap; past it a refresh answers 429
    /// `too_many_attempts`. Shared by every instance (counted in the
    /// database).
    pub refresh_max_per_minute: u32,
    /// `EDGEAUTH_SESSION_PURGE_AFTER`: how long a session that ended
    /// (revoked, or expired) stays in the database before it and its
    /// refresh tokens are deleted, default 7 days, at least 1h.
    pub purge_after: u64,
}

impl SessionSettings {
    pub(super) fn read(raw: &mut Raw, backend: Backend) -> Result<Self, ConfigError> {
        let access_ttl = raw.duration_secs("ACCESS_TTL", 900)?;
        if !(60..=86_400).contains(&access_ttl) {
            return Err(ConfigError::new(
                "ACCESS_TTL",
                format!("must be between 1m and 1d, got {access_ttl}s"),
            ));
        }
        let refresh_ttl = raw.duration_secs("REFRESH_TTL", 14 * 86_400)?;
        if refresh_ttl <= access_ttl {
            return Err(ConfigError::new(
                "REFRESH_TTL",
                "must be longer than EDGEAUTH_ACCESS_TTL",
            ));
        }
        let lifetime = raw.duration_secs("SESSION_LIFETIME", 90 * 86_400)?;
        if lifetime < refresh_ttl {
            return Err(ConfigError::new(
                "SESSION_LIFETIME",
                "must be at least EDGEAUTH_REFRESH_TTL",
            ));
        }
        let reuse_grace = raw.duration_secs("REFRESH_REUSE_GRACE", 10)?;
        if reuse_grace > 300 {
            return Err(ConfigError::new(
                "REFRESH_REUSE_GRACE",
                "must be at most 5m (0 = strict)",
            ));
        }
        Ok(Self {
            access_ttl,
            refresh_ttl,
            lifetime,
            reuse_grace,
            max_per_user: raw.number("MAX_SESSIONS", 10, 1..=1000)?,
            // Several instances share a PostgreSQL database: another
            // instance's logout must count at once unless the operator
            // chose otherwise.
            cache: raw.duration_secs(
                "SESSION_CACHE",
                match backend {
                    Backend::Sqlite => 30,
                    Backend::Postgres => 0,
                },
            )?,
            refresh_max_per_minute: raw.number("REFRESH_MAX_PER_MINUTE", 60, 0..=1_000_000)?,
            purge_after: raw
                .duration_secs("SESSION_PURGE_AFTER", 7 * 86_400)
                .and_then(|secs| {
                    if secs < 3600 {
                        Err(ConfigError::new(
                            "SESSION_PURGE_AFTER",
                            "must be at least 1h",
                        ))
                    } else {
                        Ok(secs)
                    }
                })?,
        })
    }
}
