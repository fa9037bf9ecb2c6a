//! Cookie-only token delivery, for browser apps.
//!
//! A request to `POST /auth/token` or `POST /auth/refresh` that carries
//! `Prefer: refresh-token=cookie` (RFC 7240) gets its refresh token only in
//! the HttpOnly refresh cookie: the JSON body omits `refresh_token`, so no
//! script on the page ever reads it. The answer says so with
//! `Preference-Applied: refresh-token=cookie`. Without the preference the
//! body carries both tokens, as OAuth clients expect.

use axum::http::{HeaderMap, HeaderValue};

/// The request header that carries the preference.
pub(crate) const PREFER: &str = "prefer";
/// The response header that confirms it.
pub(crate) const PREFERENCE_APPLIED: &str = "preference-applied";
/// The preference itself.
const COOKIE_ONLY: &str = "refresh-token=cookie";

/// Whether the request asks for the refresh token in the cookie only. A
/// `Prefer` header may hold several comma-separated preferences, each with
/// `;` parameters; names and values compare case-insensitively, and a
/// quoted value counts as the bare one.
pub(crate) fn cookie_only(headers: &HeaderMap) -> bool {
    headers
        .get_all(PREFER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.split(';').next())
        .map(|p| p.replace(['"', ' ', '\t'], ""))
        .any(|p| p.eq_ignore_ascii_case(COOKIE_ONLY))
}

/// Marks a response whose body left the refresh token out.
pub(crate) fn mark_applied(headers: &mut HeaderMap) {
    headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static(COOKIE_ONLY));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(PREFER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_preference_is_found_among_others() {
        assert!(cookie_only(&with(&["refresh-token=cookie"])));
        assert!(cookie_only(&with(&["Refresh-Token=\"Cookie\""])));
        assert!(cookie_only(&with(&[
            "return=minimal, refresh-token = cookie; x=1"
        ])));
        assert!(cookie_only(&with(&[
            "return=minimal",
            "refresh-token=cookie"
        ])));
        assert!(!cookie_only(&with(&[])));
        assert!(!cookie_only(&with(&["return=minimal"])));
        assert!(!cookie_only(&with(&["refresh-token=body"])));
        assert!(!cookie_only(&with(&["x-refresh-token=cookie"])));
    }
}
