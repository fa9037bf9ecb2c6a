//! Failed-login throttling per email (known or not, so it reveals nothing):
//! after `max` failures within `window` seconds, 429 until the window ends.
//! In memory, per server instance.

use std::{collections::HashMap, sync::Mutex};

use crate::error::AppError;

const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub(crate) struct LoginLimiter {
    max: u32,
    window: u64,
    failures: Mutex<HashMap<String, (u32, u64)>>,
}

impl LoginLimiter {
    pub(crate) fn new(max: u32, window: u64) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (u32, u64)>) -> T) -> T {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut map)
    }

    /// Refuses the attempt while the key is locked out.
    pub(crate) fn check(&self, key: &str, now: u64) -> Result<(), AppError> {
        self.with(|map| match map.get(key) {
            Some(&(count, start))
                if count >= self.max && now < start.saturating_add(self.window) =>
            {
                Err(AppError::TooManyAttempts(
                    start.saturating_add(self.window).saturating_sub(now),
                ))
            }
            _ => Ok(()),
        })
    }

    /// Counts a failure.
    pub(crate) fn failed(&self, key: &str, now: u64) {
        let window = self.window;
        self.with(|map| {
            if map.len() >= MAX_TRACKED {
                map.retain(|_, (_, start)| now < start.saturating_add(window));
            }
            let entry = map.entry(key.to_owned()).or_insert((0, now));
            if now >= entry.1.saturating_add(window) {
                *entry = (0, now);
            }
            entry.0 = entry.0.saturating_add(1);
        });
    }

    /// Forgets the key's failures after a success.
    pub(crate) fn succeeded(&self, key: &str) {
        self.with(|map| map.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_until_the_window_ends() {
        let l = LoginLimiter::new(2, 60);
        l.failed("a", 100);
        assert!(l.check("a", 100).is_ok());
        l.failed("a", 110);
        let Err(AppError::TooManyAttempts(retry)) = l.check("a", 120) else {
            panic!("expected a lockout")
        };
        assert_eq!(retry, 40);
        assert!(l.check("b", 120).is_ok());
        assert!(l.check("a", 160).is_ok());
        l.succeeded("a");
        assert!(l.check("a", 121).is_ok());
    }
}
