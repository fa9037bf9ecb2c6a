//! Cookie CSRF: a request authenticated by the access cookie that may change
//! state must come from an allowed origin. The issuing server and the edge
//! gate both ask [`check_csrf`], so a request one refuses the other refuses
//! too.

use alloc::{format, string::String, vec::Vec};
use core::fmt;

use crate::extract::TokenSource;

/// Why a cookie-authenticated request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CsrfError {
    /// An unsafe method with neither an `Origin` nor a `Referer` among the
    /// allowed origins.
    Rejected,
}

impl CsrfError {
    /// Every variant.
    pub const ALL: [Self; 1] = [Self::Rejected];

    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        "csrf_rejected"
    }

    /// The HTTP status: 403.
    pub const fn http_status(self) -> u16 {
        403
    }
}

impl fmt::Display for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cross-site request refused: the origin is not allowed")
    }
}

impl core::error::Error for CsrfError {}

/// Whether a method cannot change state (RFC 9110 section 9.2.1, as browsers
/// and the server treat it): `GET`, `HEAD` and `OPTIONS`, exactly so
/// spelled. Any other method, in any spelling, is unsafe.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// The origin (`scheme://host[:port]`, lowercase) of an `http` or `https`
/// URL; `None` for another scheme, no host, or user information.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme_is = |s: &str| scheme.eq_ignore_ascii_case(s);
    if !scheme_is("http") && !scheme_is("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// A list of allowed origins (the server's and the gate's
/// `EDGEAUTH_ALLOWED_ORIGINS`): comma-separated, each exactly
/// `scheme://host[:port]` (a trailing `/` is tolerated), lowercased as
/// [`origin_of`] gives them; `None` if one is not an origin.
pub fn parse_origins(list: &str) -> Option<Vec<String>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.trim_end_matches('/');
            origin_of(s).filter(|o| o.len() == s.len())
        })
        .collect()
}

/// The origin a request says it comes from: its `Origin` header (trimmed,
/// without a trailing `/`, lowercase), or failing that its `Referer`'s
/// origin.
pub fn request_origin(origin: Option<&str>, referer: Option<&str>) -> Option<String> {
    origin
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .or_else(|| referer.and_then(|r| origin_of(r.trim())))
}

/// The cookie CSRF rule: a request whose token came from the access cookie
/// and whose method is not safe ([`is_safe_method`]) needs a
/// [`request_origin`] equal to one of `allowed` (each `scheme://host[:port]`,
/// lowercase, as [`origin_of`] gives). Bearer tokens are not sent by
/// browsers on their own, so they pass.
pub fn check_csrf<S: AsRef<str>>(
    method: &str,
    source: TokenSource,
    origin: Option<&str>,
    referer: Option<&str>,
    allowed: &[S],
) -> Result<(), CsrfError> {
    if source != TokenSource::Cookie || is_safe_method(method) {
        return Ok(());
    }
    match request_origin(origin, referer) {
        Some(o) if allowed.iter().any(|a| a.as_ref() == o) => Ok(()),
        _ => Err(CsrfError::Rejected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: [&str; 2] = ["https://app.example", "http://127.0.0.1:8080"];

    fn check(
        method: &str,
        source: TokenSource,
        origin: Option<&str>,
        referer: Option<&str>,
    ) -> bool {
        check_csrf(method, source, origin, referer, &ALLOWED).is_ok()
    }

    #[test]
    fn cookies_on_unsafe_methods_need_an_allowed_origin() {
        use TokenSource::{Bearer, Cookie};
        for method in ["GET", "HEAD", "OPTIONS"] {
            assert!(check(method, Cookie, None, None), "{method}");
        }
        for method in ["POST", "PUT", "PATCH", "DELETE", "get", "PROPFIND"] {
            assert!(!check(method, Cookie, None, None), "{method}");
            assert!(check(method, Bearer, None, None), "{method}");
            assert!(check(method, Cookie, Some("https://app.example"), None));
            assert!(check(method, Cookie, Some(" HTTPS://App.Example/ "), None));
            assert!(!check(method, Cookie, Some("https://evil.example"), None));
            assert!(!check(method, Cookie, Some("null"), None));
            // Origin decides when present; the Referer only stands in.
            assert!(!check(
                method,
                Cookie,
                Some("https://evil.example"),
                Some("https://app.example/page")
            ));
            assert!(check(
                method,
                Cookie,
                None,
                Some("http://127.0.0.1:8080/a?b#c")
            ));
            assert!(!check(
                method,
                Cookie,
                None,
                Some("https://app.example.evil/")
            ));
            assert!(!check(method, Cookie, None, Some("/relative")));
        }
        assert_eq!(
            check_csrf::<&str>("POST", TokenSource::Cookie, None, None, &[]),
            Err(CsrfError::Rejected)
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("HTTPS://A.example:8443/x?y").as_deref(),
            Some("https://a.example:8443")
        );
        assert_eq!(origin_of("http://h").as_deref(), Some("http://h"));
        for bad in ["ftp://h", "https://", "https://u@h/", "h", "/p"] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
        assert_eq!(
            parse_origins(" https://A.example/, http://127.0.0.1:8080 ,").unwrap(),
            ["https://a.example", "http://127.0.0.1:8080"]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        for bad in [
            "a.example",
            "https://a.example/x",
            "https://a.example?q",
            "https://u@a",
        ] {
            assert_eq!(parse_origins(bad), None, "{bad}");
        }
        assert_eq!(CsrfError::Rejected.code(), "csrf_rejected");
        assert_eq!(CsrfError::Rejected.http_status(), 403);
    }
}
