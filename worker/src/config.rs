//! The gate's settings, read from the Worker's `[vars]` (see the root
//! `wrangler.toml`). Parsing is pure: it takes a lookup function, so the
//! rules are tested natively; the glue passes one that reads the `Env`.

use core::fmt;

use edgeauth_core::{DEFAULT_ACCESS_COOKIE, DEFAULT_LEEWAY, KeySet, RoutePolicy, is_cookie_name};

use crate::trust::{Trust, duration_seconds};

/// Expected issuer (`iss`).
pub(crate) const ISSUER: &str = "EDGEAUTH_ISSUER";
/// Expected audience (one of `aud`).
pub(crate) const AUDIENCE: &str = "EDGEAUTH_AUDIENCE";
/// URL of the issuing server's JWKS.
pub(crate) const JWKS_URL: &str = "EDGEAUTH_JWKS_URL";
/// Inline JWKS document, instead of a URL.
pub(crate) const JWKS: &str = "EDGEAUTH_JWKS";
/// Where allowed requests go.
pub(crate) const ORIGIN: &str = "EDGEAUTH_ORIGIN";
/// Route rules, as JSON.
pub(crate) const ROUTES: &str = "EDGEAUTH_ROUTES";
/// Clock-skew leeway in seconds.
pub(crate) const LEEWAY: &str = "EDGEAUTH_LEEWAY";
/// The name of the cookie that carries the access token, as at the server.
pub(crate) const ACCESS_COOKIE: &str = "EDGEAUTH_ACCESS_COOKIE";
/// URL of the issuing server's revocation feed (optional).
pub(crate) const REVOCATIONS_URL: &str = "EDGEAUTH_REVOCATIONS_URL";
/// How long the last good feed is relied on while refreshes fail.
pub(crate) const REVOCATIONS_MAX_STALENESS: &str = "EDGEAUTH_REVOCATIONS_MAX_STALENESS";

/// The default of [`REVOCATIONS_MAX_STALENESS`], in seconds.
pub(crate) const DEFAULT_REVOCATIONS_MAX_STALENESS: u64 = 60;

/// The largest leeway accepted, in seconds: more is a configuration mistake.
pub(crate) const MAX_LEEWAY: u64 = 3600;

/// Where the trusted keys come from.
#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    /// Fetched from this URL and cached in the isolate.
    Url(String),
    /// Given inline, fixed for the deployment.
    Inline(KeySet),
}

/// Where the revocation feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RevocationsSource {
    /// The feed's URL (https, or http to a loopback host).
    pub(crate) url: String,
    /// Seconds after the last good fetch at which the feed is no longer
    /// relied on (protected routes then fail closed).
    pub(crate) max_staleness: u64,
}

/// The gate's validated settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Expected `iss`.
    pub(crate) issuer: String,
    /// Expected audience.
    pub(crate) audience: String,
    /// Where the keys come from.
    pub(crate) jwks: JwksSource,
    /// The origin's base URL, without a trailing `/`; the request's path and
    /// query are appended to it.
    pub(crate) origin: String,
    /// The route rules.
    pub(crate) routes: RoutePolicy,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    pub(crate) leeway: u64,
    /// The access-token cookie's name (default `edgeauth_session`).
    pub(crate) access_cookie: String,
    /// CSRF origins, the origin assertion, credential forwarding and key
    /// staleness (`trust.rs`).
    pub(crate) trust: Trust,
    /// The revocation feed; `None`: no revocation is checked.
    pub(crate) revocations: Option<RevocationsSource>,
}

/// A missing or invalid setting. `Display` gives the full reason (for the
/// log); [`public_detail`](Self::public_detail) names only the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    setting: &'static str,
    reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    Missing,
    Invalid(String),
    BothJwks,
}

impl ConfigError {
    fn missing(setting: &'static str) -> Self {
        Self {
            setting,
            reason: Reason::Missing,
        }
    }

    pub(crate) fn invalid(setting: &'static str, why: impl fmt::Display) -> Self {
        Self {
            setting,
            reason: Reason::Invalid(why.to_string()),
        }
    }

    #[cfg(test)]
    /// The setting at fault.
    pub(crate) fn setting(&self) -> &'static str {
        self.setting
    }

    /// What the client is told: the setting and whether it is missing or
    /// invalid, not the details of its value.
    pub(crate) fn public_detail(&self) -> String {
        match &self.reason {
            Reason::Missing if self.setting == JWKS_URL => {
                format!("setting {JWKS_URL} or {JWKS} must be set")
            }
            Reason::Missing => format!("setting {} is not set", self.setting),
            Reason::Invalid(_) => format!("setting {} is invalid", self.setting),
            Reason::BothJwks => format!("only one of {JWKS_URL} and {JWKS} may be set"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::Invalid(why) => write!(f, "setting {} is invalid: {why}", self.setting),
            _ => f.write_str(&self.public_detail()),
        }
    }
}

impl core::error::Error for ConfigError {}

impl Config {
    /// Reads and checks every setting; `var` looks one up by name. An empty
    /// value counts as not set.
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let require = |name: &'static str| get(name).ok_or(ConfigError::missing(name));

        let issuer = require(ISSUER)?;
        let audience = require(AUDIENCE)?;
        let jwks = match (get(JWKS_URL), get(JWKS)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    setting: JWKS,
                    reason: Reason::BothJwks,
                });
            }
            (None, None) => return Err(ConfigError::missing(JWKS_URL)),
            (Some(url), None) => JwksSource::Url(jwks_url(url.trim()).ok_or(
                ConfigError::invalid(JWKS_URL, "not an https URL (http only for a loopback host)"),
            )?),
            (None, Some(doc)) => {
                let keys = KeySet::from_jwks(&doc).map_err(|e| ConfigError::invalid(JWKS, e))?;
                if keys.is_empty() {
                    return Err(ConfigError::invalid(JWKS, "no Ed25519 signature key"));
                }
                JwksSource::Inline(keys)
            }
        };
        let origin = require(ORIGIN)?;
        let origin = http_url(origin.trim()).ok_or(ConfigError::invalid(
            ORIGIN,
            "not an http(s) URL without query",
        ))?;
        let origin = origin.trim_end_matches('/').to_owned();
        let routes = RoutePolicy::from_json(&require(ROUTES)?)
            .map_err(|e| ConfigError::invalid(ROUTES, e))?;
        let leeway = match get(LEEWAY) {
            None => DEFAULT_LEEWAY,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&s| s <= MAX_LEEWAY)
                .ok_or(ConfigError::invalid(
                    LEEWAY,
                    format_args!("not a whole number of seconds up to {MAX_LEEWAY}"),
                ))?,
        };
        let access_cookie = match get(ACCESS_COOKIE) {
            None => DEFAULT_ACCESS_COOKIE.to_owned(),
            Some(name) => Some(name.trim().to_owned())
                .filter(|name| is_cookie_name(name))
                .ok_or(ConfigError::invalid(
                    ACCESS_COOKIE,
                    "not a cookie name (letters, digits, '_', '-', '.')",
                ))?,
        };
        let revocations = match get(REVOCATIONS_URL) {
            None => None,
            Some(url) => Some(RevocationsSource {
                url: jwks_url(url.trim()).ok_or(ConfigError::invalid(
                    REVOCATIONS_URL,
                    "not an https URL (http only for a loopback host)",
                ))?,
                max_staleness: match get(REVOCATIONS_MAX_STALENESS) {
                    None => DEFAULT_REVOCATIONS_MAX_STALENESS,
                    Some(value) => positive_duration(REVOCATIONS_MAX_STALENESS, &value)?,
                },
            }),
        };
        let trust = Trust::from_vars(get)?;
        Ok(Self {
            issuer,
            audience,
            jwks,
            origin,
            routes,
            leeway,
            access_cookie,
            trust,
            revocations,
        })
    }
}

/// A duration setting that must be positive: seconds, or a number with
/// `s`, `m`, `h` or `d`.
pub(crate) fn positive_duration(setting: &'static str, value: &str) -> Result<u64, ConfigError> {
    duration_seconds(value)
        .filter(|&s| s > 0)
        .ok_or(ConfigError::invalid(
            setting,
            "not a positive duration (seconds, or a number with s, m, h or d)",
        ))
}

/// `url` if it is a JWKS (or revocation feed) URL the gate may trust: `https`, or `http` to a
/// loopback host (`127.0.0.1`, `localhost`, `[::1]`, for tests), with no
/// user information. Keys fetched over plain HTTP could be swapped on the
/// way.
fn jwks_url(url: &str) -> Option<String> {
    let url = http_url(url)?;
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    if authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| ["[", h, "]"].concat())?,
        None => authority.split(':').next()?.to_owned(),
    };
    let loopback = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|l| host.eq_ignore_ascii_case(l));
    (scheme.eq_ignore_ascii_case("https") || loopback).then_some(url)
}

/// `url` if it is an absolute `http` or `https` URL with a host and no query,
/// fragment, whitespace or control characters.
fn http_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme_ok = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let host = rest.split('/').next().unwrap_or("");
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#');
    (scheme_ok && !host.is_empty() && clean).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS_DOC: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    fn good() -> Vec<(&'static str, String)> {
        vec![
            (ISSUER, "https://auth.example".into()),
            (AUDIENCE, "api".into()),
            (
                JWKS_URL,
                "https://auth.example/.well-known/jwks.json".into(),
            ),
            (JWKS, String::new()),
            (ORIGIN, "https://origin.example/".into()),
            (ROUTES, r#"[{"path":"/**"}]"#.into()),
        ]
    }

    fn parse(vars: &[(&'static str, String)]) -> Result<Config, ConfigError> {
        Config::from_vars(|name| {
            vars.iter()
                .rev()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn with(changes: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = good();
        vars.extend(changes.iter().map(|&(n, v)| (n, v.to_owned())));
        parse(&vars)
    }

    #[test]
    fn a_complete_configuration() {
        let c = parse(&good()).unwrap();
        assert_eq!(c.issuer, "https://auth.example");
        assert_eq!(c.audience, "api");
        assert!(
            matches!(c.jwks, JwksSource::Url(ref u) if u == "https://auth.example/.well-known/jwks.json")
        );
        assert_eq!(c.origin, "https://origin.example");
        assert_eq!(c.leeway, DEFAULT_LEEWAY);
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.access_cookie, "edgeauth_session");

        let c = with(&[
            (JWKS_URL, ""),
            (JWKS, JWKS_DOC),
            (LEEWAY, "5"),
            (ACCESS_COOKIE, " at "),
        ])
        .unwrap();
        assert!(matches!(c.jwks, JwksSource::Inline(ref k) if k.contains("k1")));
        assert_eq!(c.leeway, 5);
        assert_eq!(c.access_cookie, "at");
    }

    #[test]
    fn each_missing_setting_is_named() {
        for setting in [ISSUER, AUDIENCE, ORIGIN, ROUTES] {
            for empty in ["", "  "] {
                let err = with(&[(setting, empty)]).unwrap_err();
                assert_eq!(err.setting(), setting);
                assert_eq!(err.public_detail(), format!("setting {setting} is not set"));
            }
        }
        let err = with(&[(JWKS_URL, "")]).unwrap_err();
        assert_eq!(err.setting(), JWKS_URL);
        assert!(err.public_detail().contains(JWKS), "{err}");
    }

    #[test]
    fn each_invalid_setting_is_named() {
        let cases: &[(&'static str, &str)] = &[
            (JWKS_URL, "ftp://auth.example/jwks"),
            (JWKS_URL, "http://auth.example/jwks"),
            (JWKS_URL, "http://127.0.0.1.evil.example/jwks"),
            (JWKS_URL, "http://localhost@evil.example/jwks"),
            (JWKS_URL, "http://[::2]:80/jwks"),
            (JWKS_URL, "/relative"),
            (ORIGIN, "origin.example"),
            (ORIGIN, "https://"),
            (ORIGIN, "https://o.example/?q=1"),
            (ORIGIN, "https://o.example/a b"),
            (ROUTES, "not json"),
            (ROUTES, r#"[{"path":"/a*"}]"#),
            (ROUTES, r#"[{"path":"/","requir":{}}]"#),
            (LEEWAY, "-1"),
            (LEEWAY, "1.5"),
            (LEEWAY, "3601"),
            (LEEWAY, "soon"),
            (ACCESS_COOKIE, "a b"),
            (ACCESS_COOKIE, "a;b"),
        ];
        for &(setting, value) in cases {
            let err = with(&[(setting, value)]).unwrap_err();
            assert_eq!(err.setting(), setting, "{setting}={value}");
            assert_eq!(err.public_detail(), format!("setting {setting} is invalid"));
            assert!(!err.public_detail().contains(value), "{err}");
            assert!(err.to_string().starts_with(&err.public_detail()), "{err}");
        }
        for jwks in [
            "{",
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#,
        ] {
            let err = with(&[(JWKS_URL, ""), (JWKS, jwks)]).unwrap_err();
            assert_eq!(err.setting(), JWKS, "{jwks}");
        }
    }

    #[test]
    fn the_revocation_feed_is_optional_and_checked() {
        let c = parse(&good()).unwrap();
        assert_eq!(c.revocations, None);
        let c = with(&[(
            REVOCATIONS_URL,
            " http://127.0.0.1:8080/.well-known/revocations ",
        )])
        .unwrap();
        assert_eq!(
            c.revocations,
            Some(RevocationsSource {
                url: "http://127.0.0.1:8080/.well-known/revocations".into(),
                max_staleness: 60,
            })
        );
        let c = with(&[
            (
                REVOCATIONS_URL,
                "https://auth.example/.well-known/revocations",
            ),
            (REVOCATIONS_MAX_STALENESS, "2m"),
        ])
        .unwrap();
        assert_eq!(c.revocations.unwrap().max_staleness, 120);
        for (setting, value) in [
            (
                REVOCATIONS_URL,
                "http://auth.example/.well-known/revocations",
            ),
            (REVOCATIONS_URL, "https://u@auth.example/r"),
            (REVOCATIONS_MAX_STALENESS, "0"),
            (REVOCATIONS_MAX_STALENESS, "soon"),
        ] {
            let err = with(&[
                (REVOCATIONS_URL, "https://auth.example/r"),
                (setting, value),
            ])
            .unwrap_err();
            assert_eq!(err.setting(), setting, "{value}");
            assert!(!err.public_detail().contains(value), "{err}");
        }
    }

    #[test]
    fn exactly_one_key_source() {
        let err = with(&[(JWKS, JWKS_DOC)]).unwrap_err();
        assert_eq!(err.setting(), JWKS);
        assert!(err.public_detail().contains("only one of"));
    }

    #[test]
    fn jwks_over_https_or_loopback_only() {
        for ok in [
            "https://auth.example/jwks",
            "HTTPS://auth.example:8443/jwks",
            "http://127.0.0.1:8080/jwks.json",
            "http://localhost/jwks",
            "http://LOCALHOST:1/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(jwks_url(ok).is_some(), "{ok}");
        }
        for bad in [
            "http://auth.example/jwks",
            "http://10.0.0.1/jwks",
            "http://127.0.0.1@evil.example/",
            "https://u@auth.example/jwks",
        ] {
            assert!(jwks_url(bad).is_none(), "{bad}");
        }
        let c = with(&[(
            crate::trust::ASSERTION_KEY,
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
        )])
        .unwrap();
        assert!(c.trust.signer.is_some());
    }

    #[test]
    fn urls() {
        assert!(http_url("HTTP://h:8080/base/").is_some());
        assert!(http_url("https://h").is_some());
        for bad in [
            "h",
            "https:/h",
            "https://",
            "https:///x",
            "https://h#f",
            "https://h\n",
        ] {
            assert!(http_url(bad).is_none(), "{bad:?}");
        }
    }
}
