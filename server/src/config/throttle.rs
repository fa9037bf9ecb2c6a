//! Account protection: failed-login limits, per-address request rates, and
//! which proxies may name the client's address.

use core::{fmt, net::IpAddr};

use ipnet::IpNet;

use super::{ConfigError, raw::Raw, raw::parse_duration_ms};

/// How much a client may try, and who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// `EDGEAUTH_LOGIN_MAX_FAILURES`: failed logins for one account from
    /// one client address within `EDGEAUTH_LOGIN_WINDOW`, default 20,
    /// 1..=100000; then that pair waits (429 `too_many_attempts`) until the
    /// window ends. The owner signing in from another address is not slowed.
    pub login_max_failures: u32,
    /// `EDGEAUTH_LOGIN_ADDRESS_MAX_FAILURES`: failed logins from one client
    /// address, whatever the accounts, within the window; default 100.
    pub login_address_max_failures: u32,
    /// `EDGEAUTH_LOGIN_ACCOUNT_MAX_FAILURES`: failed logins for one account
    /// from every address together within the window; default 1000, a
    /// ceiling high enough that only an attack from many addresses meets it.
    pub login_account_max_failures: u32,
    /// `EDGEAUTH_LOGIN_WINDOW` in seconds, default 15 minutes.
    pub login_window: u64,
    /// `EDGEAUTH_REGISTER_RATE`: registrations per client address, default
    /// `10/1m` (a burst of 10, then one every 6 s); `off` disables.
    pub register_rate: Option<Rate>,
    /// `EDGEAUTH_TOKEN_RATE`: requests to `POST /auth/token` per client
    /// address, default `60/1m`; `off` disables.
    pub token_rate: Option<Rate>,
    /// `EDGEAUTH_REFRESH_RATE`: refreshes (`POST /auth/refresh`) per client
    /// address, default `600/1m`; `off` disables.
    pub refresh_rate: Option<Rate>,
    /// `EDGEAUTH_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges
    /// of the reverse proxies whose `X-Forwarded-For` or `CF-Connecting-IP`
    /// names the client; default none (the TCP peer is the client).
    pub trusted_proxies: Vec<IpNet>,
}

/// A request rate: at most `count` requests in a burst, refilled evenly
/// over `per_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The burst, and the number of requests per period.
    pub count: u32,
    /// The period, in milliseconds.
    pub per_ms: u64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.count, self.per_ms)
    }
}

impl ThrottleSettings {
    pub(super) fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        Ok(Self {
            login_max_failures: raw.number("LOGIN_MAX_FAILURES", 20, 1..=100_000)?,
            login_address_max_failures: raw.number(
                "LOGIN_ADDRESS_MAX_FAILURES",
                100,
                1..=1_000_000,
            )?,
            login_account_max_failures: raw.number(
                "LOGIN_ACCOUNT_MAX_FAILURES",
                1000,
                1..=1_000_000,
            )?,
            login_window: raw.duration_secs("LOGIN_WINDOW", 15 * 60)?,
            register_rate: raw.parse("REGISTER_RATE", Some(Rate::per_minute(10)), parse_rate)?,
            token_rate: raw.parse("TOKEN_RATE", Some(Rate::per_minute(60)), parse_rate)?,
            refresh_rate: raw.parse("REFRESH_RATE", Some(Rate::per_minute(600)), parse_rate)?,
            trusted_proxies: raw.parse("TRUSTED_PROXIES", Vec::new(), parse_networks)?,
        })
    }
}

impl Rate {
    const fn per_minute(count: u32) -> Self {
        Self {
            count,
            per_ms: 60_000,
        }
    }
}

/// `N/DURATION` (`10/1m`, `600/60`, `5/500ms`), or `off`.
pub(super) fn parse_rate(v: &str) -> Result<Option<Rate>, String> {
    if ["off", "none", "0"].contains(&v.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    let bad = || format!("must be a rate like 10/1m (a count per duration) or off, got \"{v}\"");
    let (count, per) = v.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per_ms = parse_duration_ms(per).map_err(|_| bad())?;
    if count == 0 || per_ms == 0 {
        return Err(bad());
    }
    Ok(Some(Rate { count, per_ms }))
}

/// Comma-separated addresses (`10.0.0.1`, `::1`) or CIDR ranges
/// (`10.0.0.0/8`, `2001:db8::/32`).
fn parse_networks(v: &str) -> Result<Vec<IpNet>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    format!("must be comma-separated addresses or CIDR ranges, got \"{s}\"")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn rates_take_a_count_and_a_duration() {
        assert_eq!(
            parse_rate("10/1m"),
            Ok(Some(Rate {
                count: 10,
                per_ms: 60_000
            }))
        );
        assert_eq!(
            parse_rate("5/500ms"),
            Ok(Some(Rate {
                count: 5,
                per_ms: 500
            }))
        );
        assert_eq!(parse_rate("off"), Ok(None));
        for bad in ["10", "0/1m", "10/0", "x/1m", "10/soon", "-1/1m"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxies_take_addresses_and_ranges() {
        let nets = parse_networks("10.0.0.0/8, 192.0.2.7 ,::1,2001:db8::/32").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["10.0.0.0/8", "192.0.2.7/32", "::1/128", "2001:db8::/32"]
        );
        assert_eq!(
            parse_networks("10.1.2.3/8").unwrap()[0].to_string(),
            "10.0.0.0/8"
        );
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(parse_networks("proxy.internal").is_err());
    }
}
