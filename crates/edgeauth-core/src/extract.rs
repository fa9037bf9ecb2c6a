//! Where a request carries its access token: `Authorization: Bearer` (RFC
//! 6750 section 2.1) or a cookie of a configured name. The issuing server and
//! the edge gate read requests with these functions, so a token one accepts
//! is found the same way by the other.

/// The name of the access-token cookie unless configured otherwise (the
/// server's and the gate's `EDGEAUTH_ACCESS_COOKIE`).
pub const DEFAULT_ACCESS_COOKIE: &str = "edgeauth_session";

/// Whether `name` may name the access cookie: letters, digits, `_`, `-`
/// and `.` (the server's and the gate's `EDGEAUTH_ACCESS_COOKIE`).
pub fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// Where an access token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The access cookie: a state-changing request also needs an allowed
    /// `Origin` (the browser sends cookies cross-site).
    Cookie,
}

/// The access token of a request and where it came from.
///
/// An `Authorization` header with the `Bearer` scheme (any case) decides:
/// its token, or none when it is empty. Without one (no header, another
/// scheme such as `Basic`) the first cookie named `cookie_name` in the
/// `Cookie` headers is used (see [`cookie_value`]). An empty token counts as
/// none.
pub fn access_token<'a>(
    authorization: Option<&'a str>,
    cookie_headers: impl IntoIterator<Item = &'a str>,
    cookie_name: &str,
) -> Option<(&'a str, TokenSource)> {
    if let Some(token) = authorization.and_then(bearer_token) {
        return (!token.is_empty()).then_some((token, TokenSource::Bearer));
    }
    cookie_headers
        .into_iter()
        .find_map(|header| cookie_value(header, cookie_name))
        .filter(|token| !token.is_empty())
        .map(|token| (token, TokenSource::Cookie))
}

/// The credentials of an `Authorization` header value whose scheme is
/// `Bearer` (any case), trimmed; `None` for another scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let value = authorization.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of the first cookie named `name` in one `Cookie` header,
/// trimmed, without one pair of surrounding double quotes (RFC 6265
/// section 4.1.1 allows them).
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = DEFAULT_ACCESS_COOKIE;

    #[test]
    fn bearer_first_then_the_cookie() {
        let cookie = Some("a=1; edgeauth_session=tok.en.c; b=2");
        let bearer = |token| Some((token, TokenSource::Bearer));
        let from_cookie = |token| Some((token, TokenSource::Cookie));
        assert_eq!(
            access_token(Some("Bearer abc"), cookie, NAME),
            bearer("abc")
        );
        assert_eq!(
            access_token(Some("bearer   abc "), None, NAME),
            bearer("abc")
        );
        assert_eq!(
            access_token(Some("Basic Zm9v"), cookie, NAME),
            from_cookie("tok.en.c")
        );
        assert_eq!(access_token(None, cookie, NAME), from_cookie("tok.en.c"));
        assert_eq!(
            access_token(None, Some("edgeauth_session=\"q\""), NAME),
            from_cookie("q")
        );
        assert_eq!(access_token(None, Some("xedgeauth_session=1"), NAME), None);
        assert_eq!(access_token(None, Some("edgeauth_session="), NAME), None);
        // An empty Bearer is no token, and the cookie is not consulted.
        assert_eq!(access_token(Some("Bearer"), cookie, NAME), None);
        assert_eq!(access_token(Some("Bearer "), None, NAME), None);
        assert_eq!(access_token(None, None, NAME), None);
    }

    #[test]
    fn the_cookie_name_is_a_parameter_and_headers_may_repeat() {
        let headers = ["theme=dark", "sid=x; edgeauth_session=old", "at=new"];
        assert_eq!(
            access_token(None, headers, "at"),
            Some(("new", TokenSource::Cookie))
        );
        assert_eq!(
            access_token(None, headers, NAME),
            Some(("old", TokenSource::Cookie))
        );
        assert_eq!(access_token(None, headers, "missing"), None);
    }

    #[test]
    fn cookie_values() {
        assert_eq!(cookie_value(" a = 1 ;b=2", "a"), Some("1"));
        assert_eq!(cookie_value("a=1; a=2", "a"), Some("1"));
        assert_eq!(cookie_value("a=\"x=y\"", "a"), Some("x=y"));
        assert_eq!(cookie_value("a", "a"), None);
        assert_eq!(cookie_value("", "a"), None);
    }

    #[test]
    fn cookie_names() {
        for ok in [DEFAULT_ACCESS_COOKIE, "a", "__Host-at", "x.y"] {
            assert!(is_cookie_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a=b", "a;b", "é", "a\"b"] {
            assert!(!is_cookie_name(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer t"), Some("t"));
        assert_eq!(bearer_token("BEARER  t "), Some("t"));
        assert_eq!(bearer_token("Bearer"), Some(""));
        assert_eq!(bearer_token("Bearerx t"), None);
        assert_eq!(bearer_token("Basic t"), None);
        assert_eq!(bearer_token(""), None);
    }
}
