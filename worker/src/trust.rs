//! What the origin may trust about a forwarded request, as plain Rust: the
//! cookie CSRF rule (the core's [`check_csrf`]), the signed origin
//! assertion (the core's [`AssertionSigner`]), whether the client's
//! credentials go on to the origin, and how long fetched keys are trusted.
//! The glue asks; nothing here touches the Workers API.

use core::fmt;

use edgeauth_core::{AssertionSigner, TokenSource, bearer_token, check_csrf, parse_origins};

use crate::{
    config::{ConfigError, positive_duration},
    error::Problem,
    gate::Identity,
};

/// Origins allowed to send cookie-authenticated unsafe requests.
pub(crate) const ALLOWED_ORIGINS: &str = "EDGEAUTH_ALLOWED_ORIGINS";
/// The seed of the assertion signing key (a secret).
pub(crate) const ASSERTION_KEY: &str = "EDGEAUTH_ASSERTION_KEY";
/// Whether `Authorization: Bearer` and the access cookie reach the origin.
pub(crate) const FORWARD_CREDENTIALS: &str = "EDGEAUTH_FORWARD_CREDENTIALS";
/// How long fetched keys are trusted while refetches fail.
pub(crate) const JWKS_MAX_STALENESS: &str = "EDGEAUTH_JWKS_MAX_STALENESS";

/// The default of [`JWKS_MAX_STALENESS`]: 24 hours, in seconds.
pub(crate) const DEFAULT_JWKS_MAX_STALENESS: u64 = 86_400;

/// The trust settings of a gate.
#[derive(Clone)]
pub(crate) struct Trust {
    /// Exact origins (`scheme://host[:port]`, lowercase).
    pub(crate) allowed_origins: Vec<String>,
    /// Signs the origin assertion; `None`: no assertion is sent.
    pub(crate) signer: Option<AssertionSigner>,
    /// Whether the client's token goes on to the origin (default false).
    pub(crate) forward_credentials: bool,
    /// Seconds after the last successful JWKS fetch at which the keys stop
    /// being trusted.
    pub(crate) jwks_max_staleness: u64,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            signer: None,
            forward_credentials: false,
            jwks_max_staleness: DEFAULT_JWKS_MAX_STALENESS,
        }
    }
}

/// The signing key stays out of logs.
impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("allowed_origins", &self.allowed_origins)
            .field("signer", &self.signer.as_ref().map(|_| "<redacted>"))
            .field("forward_credentials", &self.forward_credentials)
            .field("jwks_max_staleness", &self.jwks_max_staleness)
            .finish()
    }
}

impl Trust {
    /// Reads the trust settings; `get` looks one up (empty counts as unset).
    pub(crate) fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut trust = Self::default();
        if let Some(list) = get(ALLOWED_ORIGINS) {
            trust.allowed_origins = parse_origins(&list).ok_or(ConfigError::invalid(
                ALLOWED_ORIGINS,
                "not comma-separated origins",
            ))?;
        }
        if let Some(seed) = get(ASSERTION_KEY) {
            trust.signer =
                Some(AssertionSigner::from_base64url(&seed).map_err(|_| {
                    ConfigError::invalid(ASSERTION_KEY, "not 32 bytes of base64url")
                })?);
        }
        if let Some(value) = get(FORWARD_CREDENTIALS) {
            trust.forward_credentials = match value.trim() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ConfigError::invalid(
                        FORWARD_CREDENTIALS,
                        "not true or false",
                    ));
                }
            };
        }
        if let Some(value) = get(JWKS_MAX_STALENESS) {
            trust.jwks_max_staleness = positive_duration(JWKS_MAX_STALENESS, &value)?;
        }
        Ok(trust)
    }

    /// The cookie CSRF rule for a request forwarded with an identity: an
    /// unsafe method whose token came from the cookie needs an `Origin`
    /// (or `Referer`) among [`ALLOWED_ORIGINS`]; 403 `csrf_rejected` if not.
    pub(crate) fn check_csrf(
        &self,
        method: &str,
        source: TokenSource,
        origin: Option<&str>,
        referer: Option<&str>,
    ) -> Result<(), Problem> {
        check_csrf(method, source, origin, referer, &self.allowed_origins).map_err(Problem::csrf)
    }

    /// The assertion header's value for a request forwarded at `now`
    /// (seconds) with this method and target (path and query exactly as
    /// the origin receives them), or `None` without a signing key.
    pub(crate) fn assertion(
        &self,
        method: &str,
        target: &str,
        now: u64,
        identity: Option<&Identity>,
    ) -> Option<String> {
        let signer = self.signer.as_ref()?;
        let claims = identity.map(Identity::claims);
        Some(signer.sign(
            method,
            target,
            now,
            claims.map(|c| (c.sub.as_str(), c.sid.as_str(), c.roles.as_slice())),
        ))
    }

    /// What to do with the client's credentials before forwarding, from
    /// its `Authorization` and `Cookie` headers: nothing when credentials
    /// are forwarded; else remove a `Bearer` authorization and the access
    /// cookie (other cookies stay).
    pub(crate) fn credentials(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
        access_cookie: &str,
    ) -> Credentials {
        if self.forward_credentials {
            return Credentials::default();
        }
        Credentials {
            drop_authorization: authorization.and_then(bearer_token).is_some(),
            cookie: cookie.and_then(|header| without_cookie(header, access_cookie)),
        }
    }
}

/// Changes to the forwarded request's credential headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// Remove `Authorization`.
    pub(crate) drop_authorization: bool,
    /// Replace `Cookie` with this value (`Some("")`: remove it).
    pub(crate) cookie: Option<String>,
}

/// A `Cookie` header without every cookie named `name`: `None` when it has
/// none (leave the header as it is), `Some("")` when nothing else is left.
fn without_cookie(header: &str, name: &str) -> Option<String> {
    let named = |pair: &str| {
        pair.split_once('=')
            .is_some_and(|(key, _)| key.trim() == name)
    };
    if !header.split(';').any(named) {
        return None;
    }
    let kept: Vec<&str> = header
        .split(';')
        .filter(|pair| !named(pair))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .collect();
    Some(kept.join("; "))
}

/// Seconds from `900`, `900s`, `15m`, `24h` or `1d`.
pub(crate) fn duration_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, unit) = match value.char_indices().last()? {
        (at, c) if c.is_ascii_alphabetic() => (value.get(..at)?, c),
        _ => (value, 's'),
    };
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use edgeauth_core::{AssertionKeys, Claims, GateAssertion};

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Trust, ConfigError> {
        Trust::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

    #[test]
    fn defaults_are_the_safe_ones() {
        let t = parse(&[]).unwrap();
        assert!(t.allowed_origins.is_empty());
        assert!(t.signer.is_none());
        assert!(!t.forward_credentials);
        assert_eq!(t.jwks_max_staleness, 86_400);
    }

    #[test]
    fn settings_are_read_and_checked() {
        let t = parse(&[
            (
                ALLOWED_ORIGINS,
                " https://App.example/, http://127.0.0.1:8787 ",
            ),
            (ASSERTION_KEY, SEED),
            (FORWARD_CREDENTIALS, "true"),
            (JWKS_MAX_STALENESS, "2h"),
        ])
        .unwrap();
        assert_eq!(
            t.allowed_origins,
            ["https://app.example", "http://127.0.0.1:8787"]
        );
        assert!(t.forward_credentials);
        assert_eq!(t.jwks_max_staleness, 7_200);
        assert!(!format!("{t:?}").contains(SEED), "{t:?}");
        for (value, seconds) in [("90", 90), ("90s", 90), ("15m", 900), ("1d", 86_400)] {
            assert_eq!(duration_seconds(value), Some(seconds), "{value}");
        }
        for (setting, value) in [
            (ALLOWED_ORIGINS, "app.example"),
            (ALLOWED_ORIGINS, "https://app.example/path"),
            (ASSERTION_KEY, "c2VjcmV0LXZhbHVl"),
            (FORWARD_CREDENTIALS, "yes"),
            (JWKS_MAX_STALENESS, "0"),
            (JWKS_MAX_STALENESS, "1w"),
            (JWKS_MAX_STALENESS, "-5"),
            (JWKS_MAX_STALENESS, "zh"),
        ] {
            let err = parse(&[(setting, value)]).unwrap_err();
            assert_eq!(err.setting(), setting, "{value}");
            assert!(!err.public_detail().contains(value), "{err}");
            assert!(!err.to_string().contains(value), "{err}");
        }
    }

    #[test]
    fn cookie_csrf_follows_the_core_rule() {
        let t = parse(&[(ALLOWED_ORIGINS, "https://app.example")]).unwrap();
        let app = Some("https://app.example");
        assert!(t.check_csrf("POST", TokenSource::Cookie, app, None).is_ok());
        assert!(
            t.check_csrf("POST", TokenSource::Bearer, None, None)
                .is_ok()
        );
        assert!(t.check_csrf("GET", TokenSource::Cookie, None, None).is_ok());
        let p = t
            .check_csrf(
                "DELETE",
                TokenSource::Cookie,
                Some("https://evil.example"),
                None,
            )
            .unwrap_err();
        assert_eq!((p.status(), p.code()), (403, "csrf_rejected"));
        assert!(
            t.check_csrf(
                "PUT",
                TokenSource::Cookie,
                None,
                Some("https://app.example/x")
            )
            .is_ok()
        );
    }

    #[test]
    fn assertions_carry_the_identity_and_verify() {
        let t = parse(&[(ASSERTION_KEY, SEED)]).unwrap();
        let public = t.signer.as_ref().unwrap().public_key();
        let keys = AssertionKeys::parse([public.as_str()]).unwrap();
        let identity = Identity::new(Rc::new(Claims {
            sub: "u".into(),
            sid: "s".into(),
            roles: vec!["admin".into()],
            ..Claims::default()
        }));
        let text = t.assertion("POST", "/a?b", 100, Some(&identity)).unwrap();
        let ok = GateAssertion::verify(&text, &keys, "POST", "/a?b", 100, 60).unwrap();
        let asserted = ok.identity.unwrap();
        assert_eq!((asserted.sub.as_str(), asserted.roles.len()), ("u", 1));
        let public_route = t.assertion("GET", "/", 100, None).unwrap();
        let ok = GateAssertion::verify(&public_route, &keys, "GET", "/", 100, 60).unwrap();
        assert_eq!(ok.identity, None);
        assert_eq!(parse(&[]).unwrap().assertion("GET", "/", 100, None), None);
    }

    #[test]
    fn credentials_are_dropped_unless_forwarded() {
        let t = parse(&[]).unwrap();
        let c = t.credentials(Some("Bearer x"), Some("a=1; at=tok; b=2"), "at");
        assert!(c.drop_authorization);
        assert_eq!(c.cookie.as_deref(), Some("a=1; b=2"));
        let c = t.credentials(Some("Basic Zm9v"), Some("at=tok"), "at");
        assert!(!c.drop_authorization, "not the gate's credential");
        assert_eq!(c.cookie.as_deref(), Some(""));
        let c = t.credentials(None, Some("a=1;xat=2; at2=3"), "at");
        assert_eq!(c, Credentials::default());
        let forward = parse(&[(FORWARD_CREDENTIALS, "true")]).unwrap();
        assert_eq!(
            forward.credentials(Some("Bearer x"), Some("at=tok"), "at"),
            Credentials::default()
        );
        assert_eq!(
            without_cookie("at=1;at=2; c=3", "at").as_deref(),
            Some("c=3")
        );
    }
}
