//! The one canonical form of a request path: what route rules match, and
//! what the gate forwards to the origin in place of the bytes it received.
//!
//! Origin servers disagree on what a path means: Tomcat and Jetty drop
//! `;parameters` before resolving `..`, nginx merges `//`, some decode
//! `%2F` into a separator, Express ignores case. A path on which such
//! readings could differ has no canonical form and is denied; every other
//! path is written one way only, so the rules and the origin see the same
//! resource.

use alloc::{borrow::Cow, string::String};
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
pub(crate) fn canonicalize(path: &str, params: bool) -> Option<CanonicalPath<'_>> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = path.get(..end)?;
    let body = path.strip_prefix('/')?;
    let mut owned: Option<String> = None;
    let mut canonical = CanonicalPath {
        text: Cow::Borrowed(""),
        params: false,
        upper: false,
    };
    let mut start = 1;
    let mut segments = body.split('/').peekable();
    while let Some(raw) = segments.next() {
        let last = segments.peek().is_none();
        // `//` anywhere: nginx merges it, others keep an empty segment.
        if raw.is_empty() && !last {
            return None;
        }
        let segment = canonical_segment(raw, params)?;
        canonical.params |= segment.params;
        canonical.upper |= segment.upper;
        match (&mut owned, segment.text) {
            (Some(out), text) => {
                out.push('/');
                out.push_str(&text);
            }
            (None, Cow::Owned(text)) => {
                let mut out = String::with_capacity(path.len() + 8);
                out.push_str(path.get(..start)?);
                out.push_str(&text);
                owned = Some(out);
            }
            (None, Cow::Borrowed(_)) => {}
        }
        start += raw.len() + 1;
    }
    canonical.text = owned.map_or(Cow::Borrowed(path), Cow::Owned);
    Some(canonical)
}

struct Segment<'a> {
    text: Cow<'a, str>,
    params: bool,
    upper: bool,
}

/// One segment in canonical form, or `None`:
///
/// - `%XX` of an unreserved character (RFC 3986 section 2.3) is decoded;
///   other escapes are kept with upper-case hex;
/// - a character a path may not hold as it is (space, `"`, `<`, `^`,
///   non-ASCII, ...) is percent-encoded (UTF-8, upper-case hex);
/// - refused: `\` raw or encoded, an encoded `/` or `;`, a control
///   character raw or encoded (`%00`-`%1F`, `%7F`), a malformed escape,
///   a raw `;` unless `params`, and a segment whose part before any `;`
///   is `.`, `..` or (with parameters) empty.
fn canonical_segment(raw: &str, params: bool) -> Option<Segment<'_>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    let mut out: Option<String> = None;
    // The length of the part before the first `;`, once one is seen.
    let mut name_len = None;
    let mut upper = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let written = out.as_ref().map_or(i, String::len);
        let (decoded, taken) = match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value)?;
                let lo = bytes.get(i + 2).copied().and_then(hex_value)?;
                (hi << 4 | lo, 3)
            }
            _ => (b, 1),
        };
        let escaped = taken == 3;
        let keep_as_escape = escaped && !is_unreserved(decoded);
        match decoded {
            0..=0x1f | 0x7f | b'\\' => return None,
            b'/' | b';' if escaped => return None,
            b';' if !params => return None,
            b';' => {
                name_len.get_or_insert(written);
            }
            _ => {}
        }
        // Kept as an escape: an escape of a reserved or other byte, and a
        // raw byte a path may not hold; else the (decoded) character.
        let as_escape = keep_as_escape || (!escaped && !is_path_char(b));
        let unchanged = if escaped {
            keep_as_escape
                && raw
                    .get(i..i + 3)
                    .is_some_and(|e| !e.bytes().any(|c| c.is_ascii_lowercase()))
        } else {
            !as_escape
        };
        if out.is_some() || !unchanged {
            let out = out.get_or_insert_with(|| {
                let mut s = String::with_capacity(raw.len() + 8);
                s.push_str(raw.get(..i).unwrap_or(""));
                s
            });
            if as_escape {
                out.push('%');
                for nibble in [decoded >> 4, decoded & 0xf] {
                    out.push(char::from(HEX.get(usize::from(nibble)).copied()?));
                }
            } else {
                out.push(char::from(decoded));
            }
        }
        if name_len.is_none() && !keep_as_escape && decoded.is_ascii_uppercase() {
            upper = true;
        }
        i += taken;
    }
    let text = out.map_or(Cow::Borrowed(raw), Cow::Owned);
    let name = text.get(..name_len.unwrap_or(text.len()))?;
    if name == "." || name == ".." || (name.is_empty() && name_len.is_some()) {
        return None;
    }
    Some(Segment {
        params: name_len.is_some(),
        text,
        upper,
    })
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
    use alloc::vec::Vec;

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
