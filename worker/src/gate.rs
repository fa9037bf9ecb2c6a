//! The gate's decisions, as plain Rust: no Workers API, no clock, no
//! network. The Worker glue (`lib.rs`) reads the request, asks this module
//! what to do, and carries it out.
//!
//! - [`Gate::decide`]: route rules, then verification, then authorization.
//! - [`token_from`]: the access token from `Authorization: Bearer` or the
//!   `edgeauth_session` cookie.
//! - [`Identity`]: the `X-Edgeauth-*` headers an allowed request carries;
//!   [`is_identity_header`] finds the ones a client sent, to strip them.
//! - [`JwksCache`]: when to fetch the key set, and how long to trust it.

use std::{cell::RefCell, collections::BTreeMap, rc::Rc};

use edgeauth_core::{AccessError, Claims, KeySet, Route, RoutePolicy, Verifier, VerifyError};

use crate::{
    config::{Config, JwksSource},
    error::Problem,
};

/// The cookie that carries the access token (docs/server-api.md, "Cookies").
pub const SESSION_COOKIE: &str = "edgeauth_session";

/// The prefix of the headers the gate owns; a client never sets them.
/// Lowercase: the Worker's `src/forward.js` compares it with the names
/// `Headers` yields, which are lowercase.
pub const IDENTITY_HEADER_PREFIX: &str = "x-edgeauth-";

/// The user id header.
pub const SUB_HEADER: &str = "X-Edgeauth-Sub";
/// The session id header.
pub const SID_HEADER: &str = "X-Edgeauth-Sid";
/// The comma-separated roles header.
pub const ROLES_HEADER: &str = "X-Edgeauth-Roles";

/// How many verified tokens a gate remembers (see [`Gate::decide`]).
pub const VERIFIED_TOKENS: usize = 1024;

/// The gate for one deployment: its rules, its verifier and its origin.
#[derive(Debug)]
pub struct Gate {
    verifier: Verifier,
    routes: RoutePolicy,
    origin: String,
    jwks_url: Option<String>,
    verified: RefCell<BTreeMap<String, Rc<Claims>>>,
}

/// A copy starts with no remembered tokens: it is made to take new keys.
impl Clone for Gate {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            routes: self.routes.clone(),
            origin: self.origin.clone(),
            jwks_url: self.jwks_url.clone(),
            verified: RefCell::default(),
        }
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it to the origin; with the caller's identity on protected routes.
    Forward(Option<Identity>),
    /// Answer it from the edge.
    Deny(Denial),
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The token failed verification (401).
    Token(VerifyError),
    /// The route rules refuse the request (401 `missing_token` or 403).
    Access(AccessError),
}

impl Denial {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Token(e) => e.code(),
            Self::Access(e) => e.code(),
        }
    }

    /// The answer to send.
    pub fn problem(self) -> Problem {
        match self {
            Self::Token(e) => Problem::invalid_token(e),
            Self::Access(e) => Problem::access(e),
        }
    }
}

impl Decision {
    /// Whether the token names a key the gate does not hold: the one denial
    /// that a fresh key set might turn around.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, Self::Deny(Denial::Token(VerifyError::UnknownKey)))
    }
}

/// Who a verified token belongs to, as the origin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Rc<Claims>);

impl Identity {
    /// The headers to add, with values made safe for HTTP: bytes outside
    /// visible ASCII, `%` and (in roles) `,` are percent-encoded, so a value
    /// can neither break the header nor fake a second role.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        let claims = &self.0;
        let mut roles = String::new();
        for (i, role) in claims.roles.iter().enumerate() {
            if i > 0 {
                roles.push(',');
            }
            push_header_value(&mut roles, role, true);
        }
        let single = |value: &str| {
            let mut out = String::with_capacity(value.len());
            push_header_value(&mut out, value, false);
            out
        };
        [
            (SUB_HEADER, single(&claims.sub)),
            (SID_HEADER, single(&claims.sid)),
            (ROLES_HEADER, roles),
        ]
    }
}

fn push_header_value(out: &mut String, value: &str, in_list: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        let keep = (0x21..=0x7e).contains(&b) && b != b'%' && !(in_list && b == b',');
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0xf] {
                out.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
    }
}

impl Gate {
    /// A gate for these settings. With a JWKS URL it starts with no key and
    /// gets them through [`set_keys`](Self::set_keys).
    pub fn new(config: &Config) -> Self {
        let (keys, jwks_url) = match &config.jwks {
            JwksSource::Inline(keys) => (keys.clone(), None),
            JwksSource::Url(url) => (KeySet::new(), Some(url.clone())),
        };
        Self {
            verifier: Verifier::new(keys, config.issuer.as_str(), config.audience.as_str())
                .with_leeway(config.leeway),
            routes: config.routes.clone(),
            origin: config.origin.clone(),
            jwks_url,
            verified: RefCell::default(),
        }
    }

    /// Decides a request from its method, its path (the query is ignored),
    /// its token if it has one, and the time in seconds since the epoch.
    ///
    /// The rules come first, so public routes need no token and no key.
    ///
    /// A token that verified is remembered by its exact text (up to
    /// [`VERIFIED_TOKENS`], until the keys change): presented again, only
    /// its time claims are checked again, not its signature. Failures are
    /// not remembered.
    pub fn decide(&self, method: &str, path: &str, token: Option<&str>, now: u64) -> Decision {
        let requirement = match self.routes.route(method, path) {
            Ok(Route::Public) => return Decision::Forward(None),
            Ok(Route::Protected(requirement)) => requirement,
            Err(e) => return Decision::Deny(Denial::Access(e)),
        };
        let Some(token) = token else {
            return Decision::Deny(Denial::Access(AccessError::MissingToken));
        };
        let claims = match self.verify(token, now) {
            Ok(claims) => claims,
            Err(e) => return Decision::Deny(Denial::Token(e)),
        };
        match requirement.check(&claims) {
            Ok(()) => Decision::Forward(Some(Identity(claims))),
            Err(e) => Decision::Deny(Denial::Access(e)),
        }
    }

    fn verify(&self, token: &str, now: u64) -> Result<Rc<Claims>, VerifyError> {
        // No borrow outlives this function and nothing in it re-enters, so
        // the borrows cannot fail; if one did, the cache is just skipped.
        let known = self
            .verified
            .try_borrow()
            .ok()
            .and_then(|verified| verified.get(token).cloned());
        if let Some(claims) = known {
            return self.verifier.check_times(&claims, now).map(|()| claims);
        }
        let claims = Rc::new(self.verifier.verify(token, now)?);
        if let Ok(mut verified) = self.verified.try_borrow_mut() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.retain(|_, c| self.verifier.check_times(c, now).is_ok());
                if verified.len() >= VERIFIED_TOKENS {
                    verified.clear();
                }
            }
            verified.insert(token.to_owned(), Rc::clone(&claims));
        }
        Ok(claims)
    }

    /// The JWKS URL, when keys are fetched rather than given inline.
    pub fn jwks_url(&self) -> Option<&str> {
        self.jwks_url.as_deref()
    }

    /// Replaces the trusted keys after a fetch, forgetting every token
    /// verified with the old ones.
    pub fn set_keys(&mut self, keys: KeySet) {
        self.verifier.set_keys(keys);
        self.verified.get_mut().clear();
    }

    /// The keys trusted now.
    pub fn keys(&self) -> &KeySet {
        self.verifier.keys()
    }

    /// The origin URL for a request URL: the origin's base followed by the
    /// request's path and query, byte for byte.
    pub fn forward_url(&self, request_url: &str) -> String {
        let mut url = String::with_capacity(self.origin.len() + request_url.len());
        url.push_str(&self.origin);
        url.push_str(path_and_query(request_url));
        url
    }
}

/// The path and query of an absolute URL (`/` when it has no path); the
/// fragment, if any, is dropped.
pub fn path_and_query(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = after_scheme
        .find('/')
        .and_then(|at| after_scheme.get(at..))
        .unwrap_or("/");
    rest.split('#').next().unwrap_or(rest)
}

/// The path of a path-and-query.
pub fn path_only(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or(path_and_query)
}

/// The access token of a request: `Authorization: Bearer <token>` (scheme
/// case-insensitive) if present, else the `edgeauth_session` cookie. An
/// empty token counts as none.
pub fn token_from<'a>(authorization: Option<&'a str>, cookie: Option<&'a str>) -> Option<&'a str> {
    let bearer = authorization.and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    bearer
        .or_else(|| cookie.and_then(session_cookie))
        .filter(|t| !t.is_empty())
}

/// The first `edgeauth_session` value in a `Cookie` header.
fn session_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == SESSION_COOKIE).then(|| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
    })
}

/// Whether a request header is one the gate owns (`X-Edgeauth-*`, any case).
pub fn is_identity_header(name: &str) -> bool {
    name.get(..IDENTITY_HEADER_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(IDENTITY_HEADER_PREFIX))
}

/// A fetched key set is trusted for at least this long, whatever
/// `Cache-Control` says (milliseconds).
pub const JWKS_MIN_TTL_MS: u64 = 60_000;
/// ... and at most this long, so a removed key stops working within the hour.
pub const JWKS_MAX_TTL_MS: u64 = 3_600_000;
/// How long a key set without a usable `max-age` is trusted.
pub const JWKS_DEFAULT_TTL_MS: u64 = 300_000;
/// At most one fetch per this interval once a key set is held: an unknown
/// `kid`, however often it comes, costs one fetch a minute at most.
pub const JWKS_REFETCH_INTERVAL_MS: u64 = 60_000;
/// With no key set at all, a failed fetch is retried after this long.
pub const JWKS_COLD_RETRY_MS: u64 = 5_000;
/// A fetch that has not finished after this long is given up on.
pub const JWKS_FETCH_TIMEOUT_MS: u64 = 10_000;

/// Why the glue would fetch the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A token names a key the gate does not hold (or it holds none yet);
    /// the request waits for the answer.
    UnknownKey,
    /// The key set's lifetime is over; refresh it in the background.
    Stale,
}

/// What the glue should do about the key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Start a fetch (and call [`JwksCache::started`]).
    Start,
    /// A fetch is under way: wait for it (unknown keys only).
    Wait,
    /// Do nothing; decide with the keys at hand.
    Skip,
}

/// When to fetch the JWKS, for one isolate. Times are milliseconds since
/// the epoch, passed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwksCache {
    loaded: bool,
    fresh_until: u64,
    last_attempt: Option<u64>,
    in_flight_since: Option<u64>,
}

impl JwksCache {
    /// A cache that holds no key set yet.
    pub const fn new() -> Self {
        Self {
            loaded: false,
            fresh_until: 0,
            last_attempt: None,
            in_flight_since: None,
        }
    }

    /// Whether a key set has ever been fetched.
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// What to do, for `need`, at `now`.
    pub fn plan(&self, need: Need, now: u64) -> Plan {
        let in_flight = self
            .in_flight_since
            .is_some_and(|since| now < since.saturating_add(JWKS_FETCH_TIMEOUT_MS));
        if in_flight {
            return match need {
                Need::UnknownKey => Plan::Wait,
                Need::Stale => Plan::Skip,
            };
        }
        let interval = if self.loaded {
            JWKS_REFETCH_INTERVAL_MS
        } else {
            JWKS_COLD_RETRY_MS
        };
        let allowed = self
            .last_attempt
            .is_none_or(|last| now >= last.saturating_add(interval));
        let wanted = match need {
            Need::UnknownKey => true,
            Need::Stale => self.loaded && now >= self.fresh_until,
        };
        if allowed && wanted {
            Plan::Start
        } else {
            Plan::Skip
        }
    }

    /// Records that a fetch starts at `now`; the returned ticket goes to
    /// [`finished`](Self::finished).
    pub fn started(&mut self, now: u64) -> u64 {
        self.last_attempt = Some(now);
        self.in_flight_since = Some(now);
        now
    }

    /// Records the end of the fetch `ticket` at `now`: `Ok` with the
    /// response's `Cache-Control` if a key set was stored, `Err` if it
    /// failed (the last good set stays in use).
    pub fn finished(&mut self, ticket: u64, now: u64, outcome: Result<Option<&str>, ()>) {
        if self.in_flight_since == Some(ticket) {
            self.in_flight_since = None;
        }
        if let Ok(cache_control) = outcome {
            self.loaded = true;
            self.fresh_until = now.saturating_add(jwks_ttl_ms(cache_control));
        }
    }

    /// Whether a fetch is under way (and not yet given up on).
    pub fn is_fetching(&self) -> bool {
        self.in_flight_since.is_some()
    }

    /// Seconds a client should wait before retrying while no key set is held.
    pub fn retry_after(&self, now: u64) -> u64 {
        let next = self
            .last_attempt
            .map_or(now, |last| last.saturating_add(JWKS_COLD_RETRY_MS));
        next.saturating_sub(now).div_ceil(1000).max(1)
    }
}

/// How long to trust a fetched key set, from its `Cache-Control`:
/// `s-maxage` or `max-age`, clamped to [`JWKS_MIN_TTL_MS`,
/// `JWKS_MAX_TTL_MS`]; `no-store`/`no-cache` mean the floor; none means
/// [`JWKS_DEFAULT_TTL_MS`].
pub fn jwks_ttl_ms(cache_control: Option<&str>) -> u64 {
    let mut max_age = None;
    let mut s_maxage = None;
    let mut no_cache = false;
    for directive in cache_control.unwrap_or("").split(',') {
        let (name, value) = directive
            .split_once('=')
            .map_or((directive, None), |(n, v)| (n, Some(v)));
        let name = name.trim().to_ascii_lowercase();
        let seconds = value.and_then(|v| v.trim().trim_matches('"').parse::<u64>().ok());
        match name.as_str() {
            "max-age" => max_age = max_age.or(seconds),
            "s-maxage" => s_maxage = s_maxage.or(seconds),
            "no-store" | "no-cache" => no_cache = true,
            _ => {}
        }
    }
    if no_cache {
        return JWKS_MIN_TTL_MS;
    }
    s_maxage.or(max_age).map_or(JWKS_DEFAULT_TTL_MS, |s| {
        s.saturating_mul(1000)
            .clamp(JWKS_MIN_TTL_MS, JWKS_MAX_TTL_MS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeauth_core::{Claims, SigningKey};

    const ISS: &str = "https://auth.test";
    const AUD: &str = "api";
    const NOW: u64 = 1_767_225_660;
    const ROUTES: &str = r#"[
        {"methods": ["GET"], "path": "/", "public": true},
        {"path": "/admin/**", "require": {"any_roles": ["admin"]}},
        {"path": "/api/**", "require": {}},
        {"methods": ["POST"], "path": "/write", "require": {"perms": ["articles.write"]}}
    ]"#;

    fn key(kid: &str, seed: u8) -> SigningKey {
        SigningKey::from_seed(kid, &[seed; 32])
    }

    fn gate_with(keys: &[&SigningKey]) -> Gate {
        let mut set = KeySet::new();
        for k in keys {
            set.insert(k.kid(), &k.public_key()).unwrap();
        }
        let config = Config {
            issuer: ISS.into(),
            audience: AUD.into(),
            jwks: JwksSource::Inline(set),
            origin: "http://127.0.0.1:9".into(),
            routes: RoutePolicy::from_json(ROUTES).unwrap(),
            leeway: 30,
        };
        Gate::new(&config)
    }

    fn claims(roles: &[&str]) -> Claims {
        Claims {
            iss: ISS.into(),
            aud: vec![AUD.into()],
            sub: "user-1".into(),
            sid: "session-1".into(),
            jti: "t1".into(),
            iat: NOW - 60,
            nbf: NOW - 60,
            exp: NOW + 840,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            perms: vec!["articles.*".into()],
            ..Claims::default()
        }
    }

    fn denied(code: &str) -> impl Fn(&Decision) -> bool + '_ {
        move |d| matches!(d, Decision::Deny(denial) if denial.code() == code)
    }

    #[test]
    fn public_routes_need_no_token_and_carry_no_identity() {
        let gate = gate_with(&[]);
        assert_eq!(gate.decide("GET", "/", None, NOW), Decision::Forward(None));
        // Not even a bad one is looked at.
        assert_eq!(
            gate.decide("GET", "/", Some("garbage"), NOW),
            Decision::Forward(None)
        );
    }

    #[test]
    fn allowed_requests_carry_the_identity() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        let token = k1.sign(&claims(&["admin", "editor"])).unwrap();
        let Decision::Forward(Some(identity)) =
            gate.decide("DELETE", "/admin/users/7", Some(&token), NOW)
        else {
            panic!("not forwarded");
        };
        assert_eq!(
            identity.headers(),
            [
                (SUB_HEADER, "user-1".to_owned()),
                (SID_HEADER, "session-1".to_owned()),
                (ROLES_HEADER, "admin,editor".to_owned()),
            ]
        );
    }

    #[test]
    fn each_denial_has_its_code() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        let viewer = k1.sign(&claims(&["viewer"])).unwrap();
        let check = |method, path, token: Option<&str>, code| {
            let d = gate.decide(method, path, token, NOW);
            assert!(denied(code)(&d), "{method} {path}: {d:?}");
        };
        check("GET", "/api/x", None, "missing_token");
        check("GET", "/admin/x", Some(&viewer), "insufficient_role");
        check("GET", "/nowhere", Some(&viewer), "route_denied");
        check("GET", "/api/../admin/x", Some(&viewer), "route_denied");
        check("GET", "/api/x", Some("a.b.c"), "malformed");

        let mut tampered = viewer.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        check("GET", "/api/x", Some(&tampered), "bad_signature");

        let expired = k1
            .sign(&Claims {
                iat: NOW - 2000,
                nbf: NOW - 2000,
                exp: NOW - 1000,
                ..claims(&[])
            })
            .unwrap();
        check("GET", "/api/x", Some(&expired), "expired");

        let other_aud = k1
            .sign(&Claims {
                aud: vec!["other".into()],
                ..claims(&[])
            })
            .unwrap();
        check("GET", "/api/x", Some(&other_aud), "wrong_audience");

        let no_perm = k1
            .sign(&Claims {
                perms: vec!["articles".into()],
                ..claims(&[])
            })
            .unwrap();
        check("POST", "/write", Some(&no_perm), "insufficient_permission");

        let rotated = key("k2", 2).sign(&claims(&[])).unwrap();
        let d = gate.decide("GET", "/api/x", Some(&rotated), NOW);
        assert!(d.is_unknown_key(), "{d:?}");
    }

    #[test]
    fn new_keys_are_used_once_set() {
        let k2 = key("k2", 2);
        let mut gate = gate_with(&[]);
        let token = k2.sign(&claims(&[])).unwrap();
        assert!(
            gate.decide("GET", "/api/x", Some(&token), NOW)
                .is_unknown_key()
        );
        let mut set = KeySet::new();
        set.insert("k2", &k2.public_key()).unwrap();
        gate.set_keys(set);
        assert!(matches!(
            gate.decide("GET", "/api/x", Some(&token), NOW),
            Decision::Forward(Some(_))
        ));
        assert_eq!(gate.keys().len(), 1);
        assert_eq!(gate.jwks_url(), None);
    }

    #[test]
    fn remembered_tokens_still_expire_and_are_forgotten_with_their_keys() {
        let k1 = key("k1", 1);
        let mut gate = gate_with(&[&k1]);
        let token = k1.sign(&claims(&[])).unwrap();
        let exp = NOW + 840;
        for now in [NOW, NOW + 1, exp + 29] {
            assert!(matches!(
                gate.decide("GET", "/api/x", Some(&token), now),
                Decision::Forward(Some(_))
            ));
        }
        assert!(denied("expired")(&gate.decide(
            "GET",
            "/api/x",
            Some(&token),
            exp + 30
        )));
        // Issued "in the future" as seen from an earlier clock.
        assert!(denied("not_yet_valid")(&gate.decide(
            "GET",
            "/api/x",
            Some(&token),
            NOW - 200
        )));
        assert!(matches!(
            gate.decide("GET", "/api/x", Some(&token), NOW),
            Decision::Forward(Some(_))
        ));
        // The key is retired: the remembered token goes with it.
        gate.set_keys(KeySet::new());
        assert!(
            gate.decide("GET", "/api/x", Some(&token), NOW)
                .is_unknown_key()
        );
    }

    #[test]
    fn the_memory_is_bounded() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        for i in 0..VERIFIED_TOKENS + 10 {
            let token = k1
                .sign(&Claims {
                    jti: format!("t{i}"),
                    ..claims(&[])
                })
                .unwrap();
            assert!(matches!(
                gate.decide("GET", "/api/x", Some(&token), NOW),
                Decision::Forward(Some(_))
            ));
            assert!(gate.verified.borrow().len() <= VERIFIED_TOKENS);
        }
        // A copy (made to take new keys) remembers nothing.
        assert!(gate.clone().verified.borrow().is_empty());
    }

    #[test]
    fn denials_become_problems() {
        let p = Denial::Token(VerifyError::Expired).problem();
        assert_eq!((p.status(), p.code()), (401, "expired"));
        let p = Denial::Access(AccessError::InsufficientRole).problem();
        assert_eq!((p.status(), p.code()), (403, "insufficient_role"));
    }

    #[test]
    fn identity_values_are_made_safe() {
        let identity = Identity(Rc::new(Claims {
            sub: "a b%\r\nX-Edgeauth-Sub: root".into(),
            sid: "é".into(),
            roles: vec!["admin,root".into(), "x".into()],
            ..Claims::default()
        }));
        let [(_, sub), (_, sid), (_, roles)] = identity.headers();
        assert_eq!(sub, "a%20b%25%0D%0AX-Edgeauth-Sub:%20root");
        assert_eq!(sid, "%C3%A9");
        assert_eq!(roles, "admin%2Croot,x");
        let empty = Identity(Rc::new(Claims::default()));
        assert_eq!(empty.headers()[2].1, "");
    }

    #[test]
    fn tokens_from_bearer_or_cookie() {
        let cookie = Some("a=1; edgeauth_session=tok.en.c; b=2");
        assert_eq!(token_from(Some("Bearer abc"), cookie), Some("abc"));
        assert_eq!(token_from(Some("bearer   abc "), None), Some("abc"));
        assert_eq!(token_from(Some("Basic Zm9v"), cookie), Some("tok.en.c"));
        assert_eq!(token_from(None, cookie), Some("tok.en.c"));
        assert_eq!(token_from(None, Some("edgeauth_session=\"q\"")), Some("q"));
        assert_eq!(token_from(None, Some("xedgeauth_session=1")), None);
        assert_eq!(token_from(None, Some("edgeauth_session=")), None);
        assert_eq!(token_from(Some("Bearer"), None), None);
        assert_eq!(token_from(Some("Bearer "), None), None);
        assert_eq!(token_from(None, None), None);
    }

    #[test]
    fn identity_headers_are_recognised_in_any_case() {
        for name in [
            "x-edgeauth-sub",
            "X-Edgeauth-Roles",
            "X-EDGEAUTH-anything",
            "x-edgeauth-",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in ["x-edgeauth", "x-edge-auth-sub", "authorization", "", "é"] {
            assert!(!is_identity_header(name), "{name}");
        }
        // What src/forward.js relies on.
        assert_eq!(
            IDENTITY_HEADER_PREFIX,
            IDENTITY_HEADER_PREFIX.to_ascii_lowercase()
        );
    }

    #[test]
    fn urls_keep_path_and_query_byte_for_byte() {
        let gate = gate_with(&[]);
        assert_eq!(
            gate.forward_url("https://edge.example/a/%2e/b?x=1&y=%20#frag"),
            "http://127.0.0.1:9/a/%2e/b?x=1&y=%20"
        );
        assert_eq!(
            gate.forward_url("https://edge.example"),
            "http://127.0.0.1:9/"
        );
        assert_eq!(path_and_query("https://h/p?q"), "/p?q");
        assert_eq!(path_only("/p?q?r"), "/p");
        assert_eq!(path_only("/p"), "/p");
    }

    #[test]
    fn key_set_lifetime_from_cache_control() {
        assert_eq!(jwks_ttl_ms(None), JWKS_DEFAULT_TTL_MS);
        assert_eq!(jwks_ttl_ms(Some("public")), JWKS_DEFAULT_TTL_MS);
        assert_eq!(jwks_ttl_ms(Some("public, max-age=600")), 600_000);
        assert_eq!(jwks_ttl_ms(Some("Max-Age=\"120\"")), 120_000);
        assert_eq!(jwks_ttl_ms(Some("max-age=600, s-maxage=900")), 900_000);
        assert_eq!(jwks_ttl_ms(Some("max-age=1")), JWKS_MIN_TTL_MS);
        assert_eq!(jwks_ttl_ms(Some("max-age=0")), JWKS_MIN_TTL_MS);
        assert_eq!(
            jwks_ttl_ms(Some("max-age=99999999999999999")),
            JWKS_MAX_TTL_MS
        );
        assert_eq!(jwks_ttl_ms(Some("max-age=86400")), JWKS_MAX_TTL_MS);
        assert_eq!(jwks_ttl_ms(Some("no-store, max-age=600")), JWKS_MIN_TTL_MS);
        assert_eq!(jwks_ttl_ms(Some("max-age=abc")), JWKS_DEFAULT_TTL_MS);
    }

    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn first_fetch_then_at_most_one_a_minute_for_unknown_keys() {
        let mut cache = JwksCache::new();
        assert_eq!(cache.plan(Need::UnknownKey, T0), Plan::Start);
        assert_eq!(cache.plan(Need::Stale, T0), Plan::Skip);
        let ticket = cache.started(T0);
        // Requests arriving meanwhile wait for the same fetch.
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 5), Plan::Wait);
        cache.finished(ticket, T0 + 20, Ok(Some("max-age=600")));
        assert!(cache.loaded());

        // A flood of unknown kids: no fetch until a minute has passed.
        let mut fetches = 0;
        for ms in (T0 + 20..T0 + 120_000).step_by(250) {
            if cache.plan(Need::UnknownKey, ms) == Plan::Start {
                fetches += 1;
                let t = cache.started(ms);
                cache.finished(t, ms + 10, Err(()));
            }
        }
        assert_eq!(fetches, 1, "one refetch in the second minute");
        assert_eq!(cache.plan(Need::UnknownKey, T0 + 60_000 - 1), Plan::Skip);
    }

    #[test]
    fn stale_sets_are_refreshed_in_the_background_and_kept_on_failure() {
        let mut cache = JwksCache::new();
        let t = cache.started(T0);
        cache.finished(t, T0, Ok(Some("max-age=120")));
        assert_eq!(cache.plan(Need::Stale, T0 + 119_999), Plan::Skip);
        assert_eq!(cache.plan(Need::Stale, T0 + 120_000), Plan::Start);
        let t = cache.started(T0 + 120_000);
        assert_eq!(cache.plan(Need::Stale, T0 + 120_001), Plan::Skip);
        cache.finished(t, T0 + 120_050, Err(()));
        assert!(cache.loaded(), "the last good set stays");
        // Still stale: retried, but not before the refetch interval.
        assert_eq!(cache.plan(Need::Stale, T0 + 179_999), Plan::Skip);
        assert_eq!(cache.plan(Need::Stale, T0 + 180_000), Plan::Start);
    }

    #[test]
    fn cold_failures_retry_sooner_and_hung_fetches_time_out() {
        let mut cache = JwksCache::new();
        let t = cache.started(T0);
        assert_eq!(
            cache.plan(Need::UnknownKey, T0 + JWKS_FETCH_TIMEOUT_MS - 1),
            Plan::Wait
        );
        // Given up on: a new fetch may start, and the old one's end is ignored
        // as far as in-flight tracking goes.
        assert_eq!(
            cache.plan(Need::UnknownKey, T0 + JWKS_FETCH_TIMEOUT_MS),
            Plan::Start
        );
        let t2 = cache.started(T0 + JWKS_FETCH_TIMEOUT_MS);
        cache.finished(t, T0 + JWKS_FETCH_TIMEOUT_MS + 1, Err(()));
        assert_eq!(
            cache.plan(Need::UnknownKey, T0 + JWKS_FETCH_TIMEOUT_MS + 2),
            Plan::Wait
        );
        cache.finished(t2, T0 + JWKS_FETCH_TIMEOUT_MS + 3, Err(()));
        assert!(!cache.loaded());
        let after = T0 + JWKS_FETCH_TIMEOUT_MS;
        assert_eq!(cache.plan(Need::UnknownKey, after + 10), Plan::Skip);
        assert_eq!(cache.retry_after(after + 10), 5);
        assert_eq!(
            cache.plan(Need::UnknownKey, after + JWKS_COLD_RETRY_MS),
            Plan::Start
        );
    }
}
