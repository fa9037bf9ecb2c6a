//! The client's address, for the limits: the TCP peer, or, when the peer
//! is one of `EDGEAUTH_TRUSTED_PROXIES`, the address that proxy reports:
//! `CF-Connecting-IP`, else the rightmost hop of `X-Forwarded-For` that is
//! not itself a trusted proxy. Anyone else's forwarding headers are
//! ignored, and a malformed header counts as absent, so a client can never
//! choose the address it is counted under.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;

use crate::{error::AppError, state::AppState};

/// The client's address, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // Without connection info (a router driven in-process), the
        // unspecified address stands for the one local caller.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(resolve(
            peer,
            &parts.headers,
            &state.config.throttle.trusted_proxies,
        )))
    }
}

/// The client's address for a request from `peer` with `headers`.
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut values = headers.get_all("cf-connecting-ip").iter();
    if let (Some(value), None) = (values.next(), values.next()) {
        return value.to_str().ok().and_then(parse_hop).unwrap_or(peer);
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for hop in value.split(',') {
            match parse_hop(hop) {
                Some(ip) => hops.push(ip),
                None => return peer,
            }
        }
    }
    // Right to left, past the trusted proxies: the first hop no trusted
    // proxy could have added is the client. If every hop is trusted, the
    // leftmost is the closest to the client there is.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(**ip))
        .or_else(|| hops.first())
        .copied()
        .unwrap_or(peer)
}

/// One hop: an address, bracketed or not, with or without a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("cf-connecting-ip", "203.0.113.8"),
        ]);
        assert_eq!(
            resolve(ip("198.51.100.1"), &h, &trusted()),
            ip("198.51.100.1")
        );
        assert_eq!(resolve(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(resolve(ip("10.1.2.3"), &h, &trusted()), ip("203.0.113.8"));
        assert_eq!(
            resolve(ip("::ffff:198.51.100.1"), &h, &trusted()),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = trusted();
        let peer = ip("10.0.0.1");
        let case = |xff: &[&str]| {
            let pairs: Vec<_> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
            resolve(peer, &headers(&pairs), &t)
        };
        assert_eq!(case(&["1.1.1.1, 203.0.113.9, 10.0.0.7"]), ip("203.0.113.9"));
        assert_eq!(case(&["1.1.1.1", "203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(case(&["10.0.0.9, 10.0.0.8"]), ip("10.0.0.9"));
        assert_eq!(
            case(&["[2001:db8::1]:443, 203.0.113.9:80"]),
            ip("203.0.113.9")
        );
        assert_eq!(case(&["[2001:db8::1]"]), ip("2001:db8::1"));
        assert_eq!(case(&[]), peer);
        for malformed in [
            "unknown",
            "1.1.1.1, , 10.0.0.7",
            "203.0.113.9 evil",
            "999.1.1.1",
        ] {
            assert_eq!(case(&[malformed]), peer, "{malformed}");
        }
        let two_cf = headers(&[
            ("cf-connecting-ip", "1.1.1.1"),
            ("cf-connecting-ip", "2.2.2.2"),
        ]);
        assert_eq!(resolve(peer, &two_cf, &t), peer);
        let bad_cf = headers(&[("cf-connecting-ip", "nope"), ("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(resolve(peer, &bad_cf, &t), peer);
    }
}
