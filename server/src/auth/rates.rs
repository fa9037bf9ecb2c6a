//! Per-address request rates (registration, sign-in, refresh, mail), kept in
//! this process's memory with `governor` (GCRA): a burst of `count`, then
//! one request every `per / count`. Unlike the failed-login counters these
//! are per instance, by design: they shed floods cheaply, before any
//! database or argon2 work; with N instances behind a balancer an address
//! gets up to N times the rate. Addresses count as [`address_key`] says.

use core::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{AuthError, limiter::address_key};
use crate::config::Rate;

/// Past this many tracked addresses, those whose bucket is full again are
/// forgotten, so memory stays bounded by the traffic of one period.
const TRACKED: usize = 10_000;

/// One rate, per client address, named for the metrics; `None` when
/// switched off.
pub(crate) struct AddressRate(&'static str, Option<DefaultKeyedRateLimiter<String>>);

impl core::fmt::Debug for AddressRate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = if self.1.is_some() { "on" } else { "off" };
        write!(f, "AddressRate({}: {state})", self.0)
    }
}

impl AddressRate {
    pub(crate) fn new(name: &'static str, rate: Option<Rate>) -> Self {
        Self(
            name,
            rate.and_then(|rate| {
                let count = NonZeroU32::new(rate.count)?;
                let every = Duration::from_millis(rate.per_ms) / rate.count;
                let quota =
                    Quota::with_period(every.max(Duration::from_nanos(1)))?.allow_burst(count);
                Some(RateLimiter::keyed(quota))
            }),
        )
    }

    /// Takes one request of `client`'s allowance, or answers 429 with the
    /// whole seconds until the next one.
    pub(crate) fn check(&self, client: IpAddr) -> Result<(), AuthError> {
        let Some(limiter) = &self.1 else {
            return Ok(());
        };
        if limiter.len() > TRACKED {
            limiter.retain_recent();
        }
        limiter
            .check_key(&address_key(client))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                AuthError::TooManyAttempts(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            })
    }
}

/// The rates of the endpoints that are limited per address.
#[derive(Debug)]
pub(crate) struct Rates {
    /// `POST /auth/register`.
    pub(crate) register: AddressRate,
    /// `POST /auth/token` (every grant).
    pub(crate) token: AddressRate,
    /// `POST /auth/refresh`, and the token endpoint's refresh grant.
    pub(crate) refresh: AddressRate,
    /// Every endpoint that sends mail.
    pub(crate) mail: AddressRate,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_burst_then_429_per_address() {
        let rate = AddressRate::new(
            "test",
            Some(Rate {
                count: 3,
                per_ms: 3_600_000,
            }),
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            rate.check(a).unwrap();
        }
        match rate.check(a) {
            Err(AuthError::TooManyAttempts(wait)) => assert!((1..=1200).contains(&wait), "{wait}"),
            other => panic!("{other:?}"),
        }
        rate.check(b).unwrap();
        let off = AddressRate::new("test", None);
        for _ in 0..100 {
            off.check(a).unwrap();
        }
    }
}
