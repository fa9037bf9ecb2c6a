//! The one canonical form of a request path: what route rules match, and
//! what the gate forwards to the origin in place of the bytes it received.
//!
//! Origin servers disagree on what a path means: Tomcat and Jetty drop
//! `;parameters` before resolving `..`, nginx merges `//`, some decode
//! `%2F` into a separator, Express ignores case. A path on which such
//! readings could differ has no canonical form and is denied; every other
//! path is written one way only, so the rules and the origin see the same
//! resource.

use alloc::{borrow::Cow, string::String, vec::Vec};
use core::fmt;

/// A request path in canonical form (see [`RoutePolicy::canonical_path`]
/// for the rules): what route rules match, and what a gate forwards.
///
/// [`RoutePolicy::canonical_path`]: crate::RoutePolicy::canonical_path
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    text: Cow<'a, str>,
    /// A segment carries `;` parameters (only when a policy allows them).
    params: bool,
    /// A letter outside the parameters is upper case.
    upper: bool,
}

impl<'a> CanonicalPath<'a> {
    /// The canonical path: rooted at `/`, without query or fragment.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The canonical path, borrowed from the request when it was canonical
    /// already.
    pub fn into_inner(self) -> Cow<'a, str> {
        self.text
    }

    /// Whether a segment carries `;` parameters.
    pub(crate) fn has_params(&self) -> bool {
        self.params
    }

    /// Whether a letter that matching compares is upper case.
    pub(crate) fn has_upper(&self) -> bool {
        self.upper
    }

    /// The segments that rules match: without their parameters, and
    /// without the empty segment a trailing `/` leaves (`/account/` is
    /// matched as `/account`, `/` as no segment at all).
    pub(crate) fn segments(&self) -> impl Iterator<Item = &str> + Clone {
        let body = self.text.get(1..).unwrap_or("");
        let body = body.strip_suffix('/').unwrap_or(body);
        body.split('/')
            .filter(move |_| !body.is_empty())
            .map(|segment| segment.split(';').next().unwrap_or(segment))
    }
}

impl fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The canonical form of `path` (its query and fragment dropped), or
/// `None` if it has none and must be denied. `params`: whether `;`
/// parameters are allowed.
///
/// - `%XX` of an unreserved character (RFC 3986 section 2.3) is decoded;
///   other escapes are kept with upper-case hex;
/// - a character a path may not hold as it is (space, `"`, `<`, `^`,
///   non-ASCII, ...) is percent-encoded (UTF-8, upper-case hex);
/// - refused: an empty segment but a last one (a trailing `/`); `\` raw or
///   encoded; an encoded `/` or `;`; a control character raw or encoded
///   (`%00`-`%1F`, `%7F`); a malformed escape; a raw `;` unless `params`;
///   a segment whose part before any `;` is `.`, `..` or (with a `;`)
///   empty.
pub(crate) fn canonicalize(path: &str, params: bool) -> Option<CanonicalPath<'_>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let end = path
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    let path = path.get(..end)?;
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    out.push(b'/');
    let mut canonical = CanonicalPath {
        text: Cow::Borrowed(""),
        params: false,
        upper: false,
    };
    // Where the current segment starts in `out`, and its first `;`.
    let mut segment = 1;
    let mut semicolon = None;
    let mut i = 1;
    loop {
        let Some(&b) = bytes.get(i).filter(|&&b| b != b'/') else {
            // The end of a segment.
            let name = out.get(segment..semicolon.unwrap_or(out.len()))?;
            let more = i < bytes.len();
            if name == b"." || name == b".." || (name.is_empty() && (more || semicolon.is_some())) {
                return None;
            }
            if !more {
                break;
            }
            out.push(b'/');
            i += 1;
            (segment, semicolon) = (out.len(), None);
            continue;
        };
        let escaped = b == b'%';
        let c = if escaped {
            let hi = bytes.get(i + 1).copied().and_then(hex_value)?;
            let lo = bytes.get(i + 2).copied().and_then(hex_value)?;
            i += 3;
            hi << 4 | lo
        } else {
            i += 1;
            b
        };
        match c {
            0..=0x1f | 0x7f | b'\\' => return None,
            b'/' | b';' if escaped => return None,
            b';' if !params => return None,
            b';' => {
                semicolon.get_or_insert(out.len());
                canonical.params = true;
            }
            _ => {}
        }
        if (escaped && !is_unreserved(c)) || (!escaped && !is_path_char(c)) {
            out.push(b'%');
            out.push(*HEX.get(usize::from(c >> 4))?);
            out.push(*HEX.get(usize::from(c & 0xf))?);
        } else {
            canonical.upper |= semicolon.is_none() && c.is_ascii_uppercase();
            out.push(c);
        }
    }
    canonical.text = if out == bytes {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(String::from_utf8(out).ok()?)
    };
    Some(canonical)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 `unreserved`: `ALPHA DIGIT - . _ ~`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A byte a path segment holds as it is (RFC 3986 `pchar` without `%`):
/// unreserved, sub-delims, `:` and `@`.
fn is_path_char(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(path: &str) -> Option<String> {
        canonicalize(path, false).map(|p| p.as_str().into())
    }

    #[test]
    fn canonical_forms() {
        for (path, want) in [
            ("/", "/"),
            ("/a/b?x=../..#f", "/a/b"),
            ("/%61dmin/%7e%2d", "/admin/~-"),
            ("/a%2e%2eb", "/a..b"),
            ("/a%20b/%c3%a9", "/a%20b/%C3%A9"),
            ("/a b/é", "/a%20b/%C3%A9"),
            ("/a^|{}\"<>`[]", "/a%5E%7C%7B%7D%22%3C%3E%60%5B%5D"),
            ("/account/", "/account/"),
            ("/x!$&'()*+,=:@", "/x!$&'()*+,=:@"),
            ("/%41DMIN/users", "/ADMIN/users"),
        ] {
            assert_eq!(canon(path).as_deref(), Some(want), "{path}");
        }
    }

    #[test]
    fn canonical_paths_are_borrowed_when_unchanged() {
        let path = canonicalize("/api/items/7?q=1", false).unwrap();
        assert!(matches!(path.into_inner(), Cow::Borrowed("/api/items/7")));
        let path = canonicalize("/api/%7eitems", false).unwrap();
        assert!(matches!(path.into_inner(), Cow::Owned(_)));
    }

    #[test]
    fn paths_without_canonical_form() {
        for bad in [
            "",
            "a/b",
            "*",
            "//",
            "//admin/users",
            "/a//b",
            "/account//",
            "/a/../b",
            "/a/./b",
            "/..",
            "/a/%2e%2E",
            "/a/.%2e/b",
            "/%2E",
            "/public/..;/admin",
            "/public/%2e%2e;/admin",
            "/public/..%3b/admin",
            "/admin;x=1/users",
            "/a%3Bb",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "/a%zz",
            "/a%2",
            "/a%",
            "/a%00",
            "/a%0a",
            "/a%1F",
            "/a%7f",
            "/a\tb",
            "/a\u{7f}",
        ] {
            assert_eq!(canon(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parameters_when_allowed() {
        let p = |path| canonicalize(path, true);
        let segments =
            |path| p(path).map(|c| c.segments().map(String::from).collect::<Vec<_>>().join("|"));
        assert_eq!(segments("/admin;x=1/users").as_deref(), Some("admin|users"));
        assert_eq!(
            p("/a;JSESSIONID=%7eX/").map(|c| c.as_str().into()),
            Some(String::from("/a;JSESSIONID=~X/"))
        );
        assert!(p("/a;x").is_some_and(|c| c.has_params() && !c.has_upper()));
        for bad in [
            "/public/..;/admin",
            "/public/%2e%2e;/admin",
            "/public/.;x/admin",
            "/public/..%3b/admin",
            "/;x/admin",
            "/a/;x",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn segments_ignore_one_trailing_slash() {
        let segments = |path| {
            canonicalize(path, false)
                .unwrap()
                .segments()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert!(segments("/").is_empty());
        assert_eq!(segments("/account/"), ["account"]);
        assert_eq!(segments("/account"), ["account"]);
        assert_eq!(segments("/a/b"), ["a", "b"]);
    }

    #[test]
    fn upper_case_is_noted_outside_escapes() {
        let upper = |path| canonicalize(path, true).unwrap().has_upper();
        assert!(upper("/ADMIN"));
        assert!(upper("/%41dmin"));
        assert!(!upper("/caf%C3%A9"));
        assert!(!upper("/a;X=1"));
    }
}
