//! Failed-login limits, so that no one can lock an owner out by failing on
//! purpose. Three counters, each in fixed windows of `window` seconds:
//!
//! - the account from one client address (`pair`, the tight one): an
//!   attacker's failures stop only the attacker's address;
//! - one client address, whatever the accounts (`address`): one address
//!   cannot spray passwords over many accounts;
//! - the account from every address together (`account`): a high ceiling
//!   that only an attack from many addresses meets.
//!
//! Each counts whether or not the account exists, so a 429 reveals
//! nothing. Counted in the store, so every instance sharing the database
//! shares the counts and a restart forgets nothing. The store sees only
//! keyed hashes (HMAC-SHA256 under a key derived from the master key) of
//! the normalised email and the address, never the text: a copy of the
//! table does not tell which emails were tried, or from where.

use core::{fmt, net::IpAddr};

use super::{AuthError, normalize};
use crate::{secret::hmac_sha256, store::Store};

/// The limits: failures per pair, per address and per account, in windows
/// of `window` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginLimits {
    pub(crate) pair: u32,
    pub(crate) address: u32,
    pub(crate) account: u32,
    pub(crate) window: u64,
}

pub(crate) struct LoginLimiter {
    limits: LoginLimits,
    key: [u8; 32],
}

impl fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The stored keys of one attempt.
struct Counters {
    pair: [u8; 32],
    address: [u8; 32],
    account: [u8; 32],
}

/// What [`LoginLimiter::check`] found: which counters to forget after a
/// success.
#[derive(Debug, Default)]
pub(crate) struct Counted {
    pair: bool,
    account: bool,
}

impl LoginLimiter {
    /// `key`: the secret the stored keys are derived with.
    pub(crate) fn new(limits: LoginLimits, key: [u8; 32]) -> Self {
        Self { limits, key }
    }

    fn hash(&self, kind: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut input: Vec<&[u8]> = vec![b"edgeauth login throttle v2\0", kind, b"\0"];
        for part in parts {
            input.extend([*part, b"\0"]);
        }
        hmac_sha256(&self.key, &input)
    }

    /// The stored keys for an email as typed and a client address.
    fn counters(&self, email: &str, client: IpAddr) -> Counters {
        let email = normalize::email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let address = address_key(client);
        Counters {
            pair: self.hash(b"pair", &[email.as_bytes(), address.as_bytes()]),
            address: self.hash(b"address", &[address.as_bytes()]),
            account: self.hash(b"account", &[email.as_bytes()]),
        }
    }

    /// Refuses the attempt while any of its counters is at its limit (the
    /// answer waits for the last of them); otherwise tells which counters
    /// hold failures, to forget after a success.
    pub(crate) async fn check(
        &self,
        store: &dyn Store,
        email: &str,
        client: IpAddr,
        now: u64,
    ) -> Result<Counted, AuthError> {
        let keys = self.counters(email, client);
        let limits = self.limits;
        let mut counted = Counted::default();
        let mut wait = 0;
        for (key, max, seen) in [
            (&keys.pair, limits.pair, Some(&mut counted.pair)),
            (&keys.address, limits.address, None),
            (&keys.account, limits.account, Some(&mut counted.account)),
        ] {
            let Some((failures, start)) = store.login_failures(key).await? else {
                continue;
            };
            let end = start.saturating_add(limits.window);
            if now >= end {
                continue;
            }
            if failures >= u64::from(max) {
                wait = wait.max(end - now);
            }
            if let Some(seen) = seen {
                *seen = true;
            }
        }
        if wait > 0 {
            return Err(AuthError::TooManyAttempts(wait));
        }
        Ok(counted)
    }

    /// Counts a failure on every counter.
    pub(crate) async fn failed(
        &self,
        store: &dyn Store,
        email: &str,
        client: IpAddr,
        now: u64,
    ) -> Result<(), AuthError> {
        let keys = self.counters(email, client);
        for key in [&keys.pair, &keys.address, &keys.account] {
            store
                .record_login_failure(key, now, self.limits.window)
                .await?;
        }
        Ok(())
    }

    /// Forgets the account's failures after a success: from this address,
    /// and the ceiling. The address's own count stays (a valid account of
    /// an attacker's must not reset it).
    pub(crate) async fn succeeded(
        &self,
        store: &dyn Store,
        email: &str,
        client: IpAddr,
        counted: Counted,
    ) -> Result<(), AuthError> {
        let keys = self.counters(email, client);
        if counted.pair {
            store.clear_login_failures(&keys.pair).await?;
        }
        if counted.account {
            store.clear_login_failures(&keys.account).await?;
        }
        Ok(())
    }
}

/// The unit limits count a client by: an IPv4 address (or an IPv4-mapped
/// IPv6 one), or an IPv6 /64, since one subscriber usually holds a whole
/// /64.
pub(crate) fn address_key(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn limiter(key: u8) -> LoginLimiter {
        LoginLimiter::new(
            LoginLimits {
                pair: 3,
                address: 10,
                account: 100,
                window: 60,
            },
            [key; 32],
        )
    }

    #[test]
    fn keys_are_the_normalised_email_and_address_under_the_secret() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let l = limiter(1);
        let one = l.counters(" Ada@Example.COM ", a);
        let same = l.counters("ada@example.com", a);
        assert_eq!(
            (one.pair, one.address, one.account),
            (same.pair, same.address, same.account)
        );
        let elsewhere = l.counters("ada@example.com", b);
        assert_ne!(one.pair, elsewhere.pair);
        assert_ne!(one.address, elsewhere.address);
        assert_eq!(one.account, elsewhere.account);
        let other = l.counters("bob@example.com", a);
        assert_ne!(one.account, other.account);
        assert_eq!(one.address, other.address);
        let distinct = [one.pair, one.address, one.account];
        assert!(
            distinct
                .iter()
                .all(|k| distinct.iter().filter(|o| *o == k).count() == 1)
        );
        assert_ne!(limiter(2).counters("ada@example.com", a).pair, one.pair);
        assert!(!format!("{l:?}").contains("key"));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    }
}
