//! The access-token claims (docs/tokens.md, "Claims") and their
//! lean parser: integers only, no tree, unknown claims skipped, duplicate
//! known claims rejected.

use alloc::{string::String, vec::Vec};

use crate::json::{self, JsonError, Kind, Reader};

/// The claims of a verified edgeauth access token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// Issuer URL.
    pub iss: String,
    /// Audiences; a single string `aud` becomes one element.
    pub aud: Vec<String>,
    /// User id.
    pub sub: String,
    /// Session id (the refresh-token family).
    pub sid: String,
    /// Unique token id.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Effective roles (hierarchy already expanded by the issuer).
    pub roles: Vec<String>,
    /// Effective permissions, `resource.action`, with `*` wildcards.
    pub perms: Vec<String>,
    /// Tenant or organization id.
    pub tid: Option<String>,
    /// Authentication methods (`pwd`, `otp`, `oauth`).
    pub amr: Option<Vec<String>>,
}

/// Which claims have been seen, to reject duplicates and find missing ones.
#[derive(Default)]
struct Seen(u16);

impl Seen {
    const REQUIRED: u16 = (1 << 10) - 1;

    fn mark(&mut self, bit: u16) -> Result<(), JsonError> {
        let mask = 1 << bit;
        if self.0 & mask != 0 {
            return Err(JsonError("duplicate claim"));
        }
        self.0 |= mask;
        Ok(())
    }
}

impl Claims {
    /// Parses a claims set. Every claim of the design but `tid` and `amr`
    /// is required; unknown claims are skipped.
    pub(crate) fn parse(text: &str) -> Result<Self, JsonError> {
        let mut claims = Self::default();
        let mut seen = Seen::default();
        let mut reader = Reader::new(text);
        reader.object(|r, key| {
            let bit = match &*key {
                "iss" => {
                    claims.iss = r.string()?.into_owned();
                    0
                }
                "aud" => {
                    claims.aud = match r.peek() {
                        Some(Kind::Array) => r.strings()?,
                        _ => alloc::vec![r.string()?.into_owned()],
                    };
                    1
                }
                "sub" => {
                    claims.sub = r.string()?.into_owned();
                    2
                }
                "sid" => {
                    claims.sid = r.string()?.into_owned();
                    3
                }
                "jti" => {
                    claims.jti = r.string()?.into_owned();
                    4
                }
                "iat" => {
                    claims.iat = r.uint()?;
                    5
                }
                "nbf" => {
                    claims.nbf = r.uint()?;
                    6
                }
                "exp" => {
                    claims.exp = r.uint()?;
                    7
                }
                "roles" => {
                    claims.roles = r.strings()?;
                    8
                }
                "perms" => {
                    claims.perms = r.strings()?;
                    9
                }
                "tid" => {
                    claims.tid = Some(r.string()?.into_owned());
                    10
                }
                "amr" => {
                    claims.amr = Some(r.strings()?);
                    11
                }
                _ => return r.skip(),
            };
            seen.mark(bit)
        })?;
        reader.finish()?;
        if seen.0 & Seen::REQUIRED != Seen::REQUIRED {
            return Err(JsonError("a required claim is missing"));
        }
        Ok(claims)
    }

    /// The claims as a JSON object, with `aud` always an array and `tid` and
    /// `amr` only when present (the shape of `tests/vectors/tokens.json`).
    pub fn to_json(&self) -> String {
        fn member(out: &mut String, name: &str) {
            if out.len() > 1 {
                out.push(',');
            }
            json::write_string(out, name);
            out.push(':');
        }
        let mut out = String::with_capacity(384);
        out.push('{');
        member(&mut out, "iss");
        json::write_string(&mut out, &self.iss);
        member(&mut out, "aud");
        json::write_strings(&mut out, &self.aud);
        for (name, value) in [("sub", &self.sub), ("sid", &self.sid), ("jti", &self.jti)] {
            member(&mut out, name);
            json::write_string(&mut out, value);
        }
        for (name, value) in [("iat", self.iat), ("nbf", self.nbf), ("exp", self.exp)] {
            member(&mut out, name);
            json::write_uint(&mut out, value);
        }
        for (name, values) in [("roles", &self.roles), ("perms", &self.perms)] {
            member(&mut out, name);
            json::write_strings(&mut out, values);
        }
        if let Some(tid) = &self.tid {
            member(&mut out, "tid");
            json::write_string(&mut out, tid);
        }
        if let Some(amr) = &self.amr {
            member(&mut out, "amr");
            json::write_strings(&mut out, amr);
        }
        out.push('}');
        out
    }

    /// Whether `role` is among the token's roles.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token's permissions grant `perm` (wildcards included).
    pub fn has_permission(&self, perm: &str) -> bool {
        crate::names::grants(&self.perms, perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"iss":"https://auth.example","aud":["api","web"],"sub":"u1","sid":"s1","jti":"j1","iat":10,"nbf":10,"exp":910,"roles":["admin"],"perms":["articles.*"],"tid":"t1","amr":["pwd"],"extra":{"nested":[1.5,null]}}"#;

    #[test]
    fn parses_every_claim() {
        let c = Claims::parse(FULL).unwrap();
        assert_eq!(c.iss, "https://auth.example");
        assert_eq!(c.aud, ["api", "web"]);
        assert_eq!(
            (c.sub.as_str(), c.sid.as_str(), c.jti.as_str()),
            ("u1", "s1", "j1")
        );
        assert_eq!((c.iat, c.nbf, c.exp), (10, 10, 910));
        assert_eq!(c.roles, ["admin"]);
        assert!(c.has_permission("articles.read"));
        assert_eq!(c.tid.as_deref(), Some("t1"));
        assert_eq!(c.amr.as_deref(), Some(&["pwd".into()][..]));
    }

    #[test]
    fn rejects_missing_duplicate_and_mistyped_claims() {
        let missing = FULL.replace(r#""sid":"s1","#, "");
        assert!(Claims::parse(&missing).is_err());
        let duplicate = FULL.replace(r#""tid":"t1""#, r#""tid":"t1","tid":"t2""#);
        assert!(Claims::parse(&duplicate).is_err());
        let escaped_duplicate = FULL.replace(r#""tid":"t1""#, r#""\u0065xp":1,"tid":"t1""#);
        assert!(Claims::parse(&escaped_duplicate).is_err());
        for (from, to) in [
            (r#""exp":910"#, r#""exp":910.5"#),
            (r#""exp":910"#, r#""exp":"910""#),
            (r#""exp":910"#, r#""exp":-1"#),
            (r#""roles":["admin"]"#, r#""roles":"admin""#),
            (r#""roles":["admin"]"#, r#""roles":[1]"#),
            (r#""aud":["api","web"]"#, r#""aud":null"#),
            (r#""sub":"u1""#, r#""sub":1"#),
        ] {
            assert!(Claims::parse(&FULL.replace(from, to)).is_err(), "{to}");
        }
    }

    #[test]
    fn to_json_reads_back() {
        let c = Claims::parse(FULL).unwrap();
        let text = c.to_json();
        assert!(
            text.starts_with(r#"{"iss":"https://auth.example","aud":["api","web"],"sub":"u1""#),
            "{text}"
        );
        assert_eq!(Claims::parse(&text).unwrap(), c);
        let mut bare = c.clone();
        bare.tid = None;
        bare.amr = None;
        bare.sub = "quote\" \\ \u{1}".into();
        assert_eq!(Claims::parse(&bare.to_json()).unwrap(), bare);
        assert!(!bare.to_json().contains("tid"));
    }

    #[test]
    fn to_json_shape() {
        let c = Claims {
            iss: "i".into(),
            aud: alloc::vec!["a".into()],
            sub: "s".into(),
            sid: "d".into(),
            jti: "j".into(),
            iat: 1,
            nbf: 2,
            exp: 3,
            roles: alloc::vec![],
            perms: alloc::vec!["p.*".into(), "q".into()],
            tid: None,
            amr: Some(alloc::vec!["pwd".into()]),
        };
        assert_eq!(
            c.to_json(),
            r#"{"iss":"i","aud":["a"],"sub":"s","sid":"d","jti":"j","iat":1,"nbf":2,"exp":3,"roles":[],"perms":["p.*","q"],"amr":["pwd"]}"#
        );
    }

    #[test]
    fn aud_may_be_a_string() {
        let c = Claims::parse(&FULL.replace(r#"["api","web"]"#, r#""api""#)).unwrap();
        assert_eq!(c.aud, ["api"]);
    }
}
