//! Login throttling.

use super::{ConfigError, raw::Raw};

/// How many failed logins an email may have before it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// `EDGEAUTH_LOGIN_MAX_FAILURES`: failed logins per email within
    /// `EDGEAUTH_LOGIN_WINDOW`, default 20, 1..=100000; then 429
    /// `too_many_attempts` until the window ends.
    pub login_max_failures: u32,
    /// `EDGEAUTH_LOGIN_WINDOW` in seconds, default 15 minutes.
    pub login_window: u64,
}

impl ThrottleSettings {
    pub(super) fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        Ok(Self {
            login_max_failures: raw.number("LOGIN_MAX_FAILURES", 20, 1..=100_000)?,
            login_window: raw.duration_secs("LOGIN_WINDOW", 15 * 60)?,
        })
    }
}
