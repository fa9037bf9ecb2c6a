//! When to (re)fetch a key set: one schedule for every verifier that fetches
//! a JWKS (the edge gate, the npm package) and for the issuing server's
//! reload of its own keys. Pure bookkeeping: no clock, no network; every
//! time is milliseconds since the epoch, passed in, and the caller does the
//! fetch and keeps the keys.
//!
//! The caller asks [`KeyRefresh::plan`] what to do about a [`Need`], starts a
//! fetch when told ([`KeyRefresh::started`]) and reports how it ended
//! ([`KeyRefresh::succeeded`] with the response's `Cache-Control`, or
//! [`KeyRefresh::failed`]: the last good set stays in use).

/// The parameters of a [`KeyRefresh`], in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRefreshPolicy {
    /// A fetched set is trusted for at least this long, whatever
    /// `Cache-Control` says (`max-age=0`, `no-store` and `no-cache` mean
    /// this floor).
    pub min_ttl_ms: u64,
    /// How long a set whose response has no usable `max-age` is trusted.
    pub default_ttl_ms: u64,
    /// At most this long, so a key removed from the set stops working in time.
    pub max_ttl_ms: u64,
    /// Once a set is held, at most one fetch per this interval, whatever
    /// prompts it: an unknown `kid`, however often it comes, costs one
    /// fetch per interval at most.
    pub refetch_interval_ms: u64,
    /// With no set held yet, a failed fetch is retried after this long.
    pub cold_retry_ms: u64,
    /// A fetch that has not ended after this long is given up on.
    pub fetch_timeout_ms: u64,
    /// A set last fetched this long ago is no longer trusted, whatever
    /// failed since: [`KeyRefresh::is_usable`] turns false and verifiers
    /// fail closed until a fetch succeeds again.
    pub max_staleness_ms: u64,
}

impl KeyRefreshPolicy {
    /// The schedule of the edge gate and the npm package: trust a set for
    /// its `max-age` within 1 min ..= 1 h (5 min without one), refetch at
    /// most once a minute, retry a first fetch after 5 s, give a fetch 10 s,
    /// stop trusting a set not refreshed for 24 h.
    pub const DEFAULT: Self = Self {
        min_ttl_ms: 60_000,
        default_ttl_ms: 300_000,
        max_ttl_ms: 3_600_000,
        refetch_interval_ms: 60_000,
        cold_retry_ms: 5_000,
        fetch_timeout_ms: 10_000,
        max_staleness_ms: 86_400_000,
    };

    /// The schedule of a revocation feed (the gate's and the npm
    /// package's): trust a feed for its `max-age` within 1 s ..= 60 s (5 s,
    /// the server's default, without one), so a revocation shows within
    /// max-age and one request; at most one fetch a second whatever
    /// prompts it (and so at most one per max-age while fetches succeed);
    /// give a fetch 5 s; stop trusting a feed not refreshed for 60 s
    /// (`EDGEAUTH_REVOCATIONS_MAX_STALENESS`'s default).
    pub const REVOCATIONS: Self = Self {
        min_ttl_ms: 1_000,
        default_ttl_ms: 5_000,
        max_ttl_ms: 60_000,
        refetch_interval_ms: 1_000,
        cold_retry_ms: 1_000,
        fetch_timeout_ms: 5_000,
        max_staleness_ms: 60_000,
    };

    /// Sets the minimum interval between fetches once a set is held (the
    /// issuing server rereads its own store, so it can afford a shorter one).
    #[must_use]
    pub const fn with_refetch_interval_ms(mut self, ms: u64) -> Self {
        self.refetch_interval_ms = ms;
        self
    }

    /// Sets how soon a failed first fetch is retried.
    #[must_use]
    pub const fn with_cold_retry_ms(mut self, ms: u64) -> Self {
        self.cold_retry_ms = ms;
        self
    }

    /// Sets how long a fetch may take before it is given up on.
    #[must_use]
    pub const fn with_fetch_timeout_ms(mut self, ms: u64) -> Self {
        self.fetch_timeout_ms = ms;
        self
    }

    /// Sets how long after its last successful fetch a set stops being
    /// trusted.
    #[must_use]
    pub const fn with_max_staleness_ms(mut self, ms: u64) -> Self {
        self.max_staleness_ms = ms;
        self
    }

    /// How long to trust a set fetched with this `Cache-Control` value:
    /// `s-maxage` (for shared caches such as the gate and the package),
    /// else `max-age`, within the floor and the cap; `no-store` or
    /// `no-cache` mean the floor; none of these, the default.
    pub fn ttl_ms(&self, cache_control: Option<&str>) -> u64 {
        // Bytes, not chars: every token of the grammar is ASCII, and the
        // npm package's .wasm need not carry UTF-8 pattern code for this.
        let mut max_age = None;
        let mut s_maxage = None;
        let mut no_cache = false;
        let header = cache_control.unwrap_or("").as_bytes();
        for directive in header.split(|&b| b == b',') {
            let mut parts = directive.splitn(2, |&b| b == b'=');
            let name = parts.next().unwrap_or_default().trim_ascii();
            let seconds = parts.next().and_then(delta_seconds);
            if name.eq_ignore_ascii_case(b"max-age") {
                max_age = max_age.or(seconds);
            } else if name.eq_ignore_ascii_case(b"s-maxage") {
                s_maxage = s_maxage.or(seconds);
            } else if name.eq_ignore_ascii_case(b"no-store")
                || name.eq_ignore_ascii_case(b"no-cache")
            {
                no_cache = true;
            }
        }
        if no_cache {
            return self.min_ttl_ms;
        }
        s_maxage.or(max_age).map_or(self.default_ttl_ms, |s| {
            s.saturating_mul(1000)
                .clamp(self.min_ttl_ms, self.max_ttl_ms.max(self.min_ttl_ms))
        })
    }
}

/// A `delta-seconds` value (RFC 9111 section 1.2.2: digits), possibly
/// quoted; `None` if it is not one or does not fit in a `u64`.
fn delta_seconds(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    let digits = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

impl Default for KeyRefreshPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why the caller would fetch the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Need {
    /// A token names a key not held (or no set is held yet); the request
    /// would wait for the answer.
    UnknownKey,
    /// Routine: refresh the set if its lifetime is over (in the background).
    Stale,
}

/// What to do about the key set. Exhaustive on purpose: a caller must
/// handle every plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// Start a fetch (and call [`KeyRefresh::started`]).
    Start,
    /// A fetch is under way: wait for it (asked for an unknown key).
    Wait,
    /// Do nothing; decide with the keys at hand.
    Skip,
}

/// The refresh state of one cached key set. Times are milliseconds since
/// the epoch, passed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRefresh {
    policy: KeyRefreshPolicy,
    loaded: bool,
    loaded_at: u64,
    fresh_until: u64,
    last_attempt: Option<u64>,
    in_flight_since: Option<u64>,
}

impl KeyRefresh {
    /// A schedule that holds no key set yet.
    pub const fn new(policy: KeyRefreshPolicy) -> Self {
        Self {
            policy,
            loaded: false,
            loaded_at: 0,
            fresh_until: 0,
            last_attempt: None,
            in_flight_since: None,
        }
    }

    /// The parameters.
    pub const fn policy(&self) -> &KeyRefreshPolicy {
        &self.policy
    }

    /// Whether a key set has ever been stored.
    pub const fn loaded(&self) -> bool {
        self.loaded
    }

    /// Whether a set is held and may still be trusted at `now`: it was
    /// fetched less than [`KeyRefreshPolicy::max_staleness_ms`] ago. When
    /// refetches keep failing past that bound, verifiers must stop using
    /// the set (the gate answers `jwks_unavailable`) until one succeeds.
    pub const fn is_usable(&self, now: u64) -> bool {
        self.loaded && now < self.loaded_at.saturating_add(self.policy.max_staleness_ms)
    }

    /// Whether the held set's lifetime is over at `now`.
    pub const fn is_stale(&self, now: u64) -> bool {
        self.loaded && now >= self.fresh_until
    }

    /// Whether a fetch is under way (and not yet given up on) at `now`.
    pub fn is_fetching(&self, now: u64) -> bool {
        self.in_flight_since
            .is_some_and(|since| now < since.saturating_add(self.policy.fetch_timeout_ms))
    }

    /// What to do, for `need`, at `now`.
    pub fn plan(&self, need: Need, now: u64) -> Plan {
        if self.is_fetching(now) {
            return match need {
                Need::UnknownKey => Plan::Wait,
                Need::Stale => Plan::Skip,
            };
        }
        let allowed = self
            .last_attempt
            .is_none_or(|last| now >= last.saturating_add(self.interval()));
        let wanted = match need {
            Need::UnknownKey => true,
            Need::Stale => self.is_stale(now),
        };
        if allowed && wanted {
            Plan::Start
        } else {
            Plan::Skip
        }
    }

    /// Records that a fetch starts at `now`; the returned ticket goes to
    /// [`succeeded`](Self::succeeded) or [`failed`](Self::failed).
    pub fn started(&mut self, now: u64) -> u64 {
        self.last_attempt = Some(now);
        self.in_flight_since = Some(now);
        now
    }

    /// Records that the fetch `ticket` stored a new set at `now`; the set is
    /// fresh for [`KeyRefreshPolicy::ttl_ms`] of `cache_control`.
    pub fn succeeded(&mut self, ticket: u64, now: u64, cache_control: Option<&str>) {
        self.ended(ticket);
        self.loaded = true;
        self.loaded_at = now;
        self.fresh_until = now.saturating_add(self.policy.ttl_ms(cache_control));
    }

    /// Records that the fetch `ticket` failed; the last good set stays.
    pub fn failed(&mut self, ticket: u64) {
        self.ended(ticket);
    }

    fn ended(&mut self, ticket: u64) {
        if self.in_flight_since == Some(ticket) {
            self.in_flight_since = None;
        }
    }

    /// Whole seconds a client should wait before retrying while no usable
    /// set is held (at least 1), for a `Retry-After`: until the next fetch
    /// the schedule allows.
    pub fn retry_after(&self, now: u64) -> u64 {
        let next = self
            .last_attempt
            .map_or(now, |last| last.saturating_add(self.interval()));
        next.saturating_sub(now).div_ceil(1000).max(1)
    }

    /// The least time between two fetches: the refetch interval once a set
    /// has been held, the cold retry before.
    const fn interval(&self) -> u64 {
        if self.loaded {
            self.policy.refetch_interval_ms
        } else {
            self.policy.cold_retry_ms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: KeyRefreshPolicy = KeyRefreshPolicy::DEFAULT;
    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn lifetime_from_cache_control() {
        assert_eq!(P.ttl_ms(None), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some("public")), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some("public, max-age=600")), 600_000);
        assert_eq!(P.ttl_ms(Some("Max-Age=\"120\"")), 120_000);
        assert_eq!(P.ttl_ms(Some("max-age=600, s-maxage=900")), 900_000);
        assert_eq!(P.ttl_ms(Some("S-MAXAGE=90, max-age=600")), 90_000);
        assert_eq!(P.ttl_ms(Some("max-age=1")), P.min_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=0")), P.min_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=99999999999999999")), P.max_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=86400")), P.max_ttl_ms);
        assert_eq!(P.ttl_ms(Some("no-store, max-age=600")), P.min_ttl_ms);
        assert_eq!(P.ttl_ms(Some("No-Cache")), P.min_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=abc")), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=-5")), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=+600")), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some("max-age=")), P.default_ttl_ms);
        assert_eq!(P.ttl_ms(Some(" max-age = 600 ")), 600_000);
        assert_eq!(
            P.ttl_ms(Some("max-age=99999999999999999999, s-maxage=x")),
            P.default_ttl_ms
        );
    }

    #[test]
    fn first_fetch_then_at_most_one_per_interval_for_unknown_keys() {
        let mut cache = KeyRefresh::new(P);
        assert_eq!(cache.plan(Need::UnknownKey, T0), Plan::Start);
        assert_eq!(cache.plan(Need::Stale, T0), Plan::Skip);
        let ticket = cache.started(T0);
        // Requests arriving meanwhile wait for the same fetch.
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 5), Plan::Wait);
        cache.succeeded(ticket, T0 + 20, Some("max-age=600"));
        assert!(cache.loaded());

        // A flood of unknown kids: no fetch until the interval has passed.
        let mut fetches = 0;
        for ms in (T0 + 20..T0 + 120_000).step_by(250) {
            if cache.plan(Need::UnknownKey, ms) == Plan::Start {
                fetches += 1;
                let t = cache.started(ms);
                cache.failed(t);
            }
        }
        assert_eq!(fetches, 1, "one refetch in the second minute");
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 60_000 - 1), Plan::Skip);
    }

    #[test]
    fn stale_sets_are_refreshed_and_kept_on_failure() {
        let mut cache = KeyRefresh::new(P);
        let t = cache.started(T0);
        cache.succeeded(t, T0, Some("max-age=120"));
        assert!(!cache.is_stale(T0 + 119_999));
        assert_eq!(cache.plan(Need::Stale, T0 + 119_999), Plan::Skip);
        assert_eq!(cache.plan(Need::Stale, T0 + 120_000), Plan::Start);
        let t = cache.started(T0 + 120_000);
        assert_eq!(cache.plan(Need::Stale, T0 + 120_001), Plan::Skip);
        cache.failed(t);
        assert!(cache.loaded(), "the last good set stays");
        // Still stale: retried, but not before the refetch interval.
        assert_eq!(cache.plan(Need::Stale, T0 + 179_999), Plan::Skip);
        assert_eq!(cache.plan(Need::Stale, T0 + 180_000), Plan::Start);
    }

    #[test]
    fn cold_failures_retry_sooner_and_hung_fetches_time_out() {
        let mut cache = KeyRefresh::new(P);
        let timeout = P.fetch_timeout_ms;
        let t = cache.started(T0);
        assert!(cache.is_fetching(T0 + timeout - 1));
        assert_eq!(cache.plan(Need::UnknownKey, T0 + timeout - 1), Plan::Wait);
        // Given up on: a new fetch may start, and the old one's end does not
        // end the new one.
        assert_eq!(cache.plan(Need::UnknownKey, T0 + timeout), Plan::Start);
        let t2 = cache.started(T0 + timeout);
        cache.failed(t);
        assert_eq!(cache.plan(Need::UnknownKey, T0 + timeout + 2), Plan::Wait);
        cache.failed(t2);
        assert!(!cache.loaded());
        let after = T0 + timeout;
        assert_eq!(cache.plan(Need::UnknownKey, after + 10), Plan::Skip);
        assert_eq!(cache.retry_after(after + 10), 5);
        assert_eq!(
            cache.plan(Need::UnknownKey, after + P.cold_retry_ms),
            Plan::Start
        );
    }

    #[test]
    fn a_set_not_refreshed_within_the_bound_is_not_trusted() {
        let hour = 3_600_000;
        let policy = P.with_max_staleness_ms(2 * hour);
        let mut cache = KeyRefresh::new(policy);
        assert!(!cache.is_usable(T0), "nothing held yet");
        let t = cache.started(T0);
        cache.succeeded(t, T0 + 10, Some("max-age=3600"));
        assert!(cache.is_usable(T0 + 10));
        // Every refetch after the first fails.
        let (mut now, mut last) = (T0 + hour, T0);
        while now < T0 + 3 * hour {
            if cache.plan(Need::Stale, now) == Plan::Start {
                let t = cache.started(now);
                cache.failed(t);
                last = now;
            }
            assert_eq!(cache.is_usable(now), now < T0 + 10 + 2 * hour, "{now}");
            now += 1_000;
        }
        assert!(cache.loaded(), "held, but no longer trusted");
        // Retry-After points at the next fetch the schedule allows.
        assert_eq!(cache.plan(Need::UnknownKey, last + 59_999), Plan::Skip);
        assert_eq!(cache.retry_after(last + 30_000), 30);
        assert_eq!(cache.plan(Need::UnknownKey, last + 60_000), Plan::Start);
        // One success and the set is trusted again.
        let t = cache.started(last + 60_000);
        cache.succeeded(t, last + 60_100, None);
        assert!(cache.is_usable(last + 60_100));
        assert_eq!(P.max_staleness_ms, 86_400_000);
        assert_eq!(P.with_fetch_timeout_ms(5).fetch_timeout_ms, 5);
    }

    #[test]
    fn a_shorter_interval_for_the_server() {
        let policy = P.with_refetch_interval_ms(5_000).with_cold_retry_ms(5_000);
        let mut cache = KeyRefresh::new(policy);
        let t = cache.started(T0);
        cache.succeeded(t, T0, None);
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 4_999), Plan::Skip);
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 5_000), Plan::Start);
        assert_eq!(KeyRefreshPolicy::default(), P);
    }
}
