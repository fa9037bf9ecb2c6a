//! Failed-login throttling per email (known or not, so it reveals nothing):
//! after `max` failures within a `window`-second window, 429 until the
//! window ends. Counted in the store, so every instance sharing the
//! database shares the count, and a restart forgets nothing. The store
//! sees a hash of the normalised email, never the text.

use crate::{error::AppError, secret::sha256, store::Store};

#[derive(Debug)]
pub(crate) struct LoginLimiter {
    max: u64,
    window: u64,
}

/// The store's key for an email as typed.
fn key_hash(email: &str) -> [u8; 32] {
    let normalised = email.trim().to_lowercase();
    sha256(&[b"edgeauth login throttle v1\0", normalised.as_bytes()].concat())
}

impl LoginLimiter {
    pub(crate) fn new(max: u32, window: u64) -> Self {
        Self {
            max: u64::from(max),
            window,
        }
    }

    /// Refuses the attempt while the email is locked out; otherwise tells
    /// whether it has failures counted (to forget after a success).
    pub(crate) async fn check(
        &self,
        store: &dyn Store,
        email: &str,
        now: u64,
    ) -> Result<bool, AppError> {
        let Some((failures, start)) = store.login_failures(&key_hash(email)).await? else {
            return Ok(false);
        };
        let end = start.saturating_add(self.window);
        if failures >= self.max && now < end {
            return Err(AppError::TooManyAttempts(end - now));
        }
        Ok(true)
    }

    /// Counts a failure.
    pub(crate) async fn failed(
        &self,
        store: &dyn Store,
        email: &str,
        now: u64,
    ) -> Result<(), AppError> {
        Ok(store
            .record_login_failure(&key_hash(email), now, self.window)
            .await?)
    }

    /// Forgets the email's failures after a success.
    pub(crate) async fn succeeded(&self, store: &dyn Store, email: &str) -> Result<(), AppError> {
        Ok(store.clear_login_failures(&key_hash(email)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::key_hash;

    #[test]
    fn the_key_is_the_normalised_email_hashed() {
        assert_eq!(key_hash(" Ada@Example.COM "), key_hash("ada@example.com"));
        assert_ne!(key_hash("ada@example.com"), key_hash("bob@example.com"));
    }
}
