//! Failed-login throttling per email (known or not, so it reveals nothing):
//! after `max` failures within a `window`-second window, 429 until the
//! window ends. Counted in the store, so every instance sharing the
//! database shares the count, and a restart forgets nothing. The store
//! sees only a keyed hash of the normalised email (HMAC-SHA256 under a key
//! derived from the master key), never the text: a copy of the table does
//! not tell which emails were tried.

use core::fmt;

use super::AuthError;
use crate::{secret::hmac_sha256, store::Store};

pub(crate) struct LoginLimiter {
    max: u64,
    window: u64,
    key: [u8; 32],
}

impl fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("max", &self.max)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl LoginLimiter {
    /// `key`: the secret the stored keys are derived with.
    pub(crate) fn new(max: u32, window: u64, key: [u8; 32]) -> Self {
        Self {
            max: u64::from(max),
            window,
            key,
        }
    }

    /// The store's key for an email as typed.
    fn key_hash(&self, email: &str) -> [u8; 32] {
        let normalised = email.trim().to_lowercase();
        hmac_sha256(
            &self.key,
            &[b"edgeauth login throttle v1\0", normalised.as_bytes()],
        )
    }

    /// Refuses the attempt while the email is locked out; otherwise tells
    /// whether it has failures counted (to forget after a success).
    pub(crate) async fn check(
        &self,
        store: &dyn Store,
        email: &str,
        now: u64,
    ) -> Result<bool, AuthError> {
        let Some((failures, start)) = store.login_failures(&self.key_hash(email)).await? else {
            return Ok(false);
        };
        let end = start.saturating_add(self.window);
        if failures >= self.max && now < end {
            return Err(AuthError::TooManyAttempts(end - now));
        }
        Ok(true)
    }

    /// Counts a failure.
    pub(crate) async fn failed(
        &self,
        store: &dyn Store,
        email: &str,
        now: u64,
    ) -> Result<(), AuthError> {
        Ok(store
            .record_login_failure(&self.key_hash(email), now, self.window)
            .await?)
    }

    /// Forgets the email's failures after a success.
    pub(crate) async fn succeeded(&self, store: &dyn Store, email: &str) -> Result<(), AuthError> {
        Ok(store.clear_login_failures(&self.key_hash(email)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::LoginLimiter;

    #[test]
    fn the_key_is_the_normalised_email_under_the_secret() {
        let limiter = LoginLimiter::new(3, 60, [1; 32]);
        let key = |email| limiter.key_hash(email);
        assert_eq!(key(" Ada@Example.COM "), key("ada@example.com"));
        assert_ne!(key("ada@example.com"), key("bob@example.com"));
        let other = LoginLimiter::new(3, 60, [2; 32]);
        assert_ne!(other.key_hash("ada@example.com"), key("ada@example.com"));
        assert!(!format!("{limiter:?}").contains("key"));
    }
}
