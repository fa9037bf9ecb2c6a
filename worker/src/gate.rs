//! The gate's decisions, as plain Rust: no Workers API, no clock, no
//! network. The Worker glue (`glue.rs`) reads the request, asks this module
//! what to do, and carries it out.
//!
//! - [`Gate::decide`]: route rules, then verification, then authorization;
//!   an allowed request goes to the origin with the core's canonical form
//!   of its path, never the bytes it arrived with.
//! - [`Gate::token`]: the access token from `Authorization: Bearer` or the
//!   access cookie (`EDGEAUTH_ACCESS_COOKIE`), found by the core's rule.
//! - [`Identity`]: the `X-Edgeauth-*` headers an allowed request carries.
//!
//! When to fetch the key set is the core's `KeyRefresh`; how long a verified
//! token may be reused is the core's `Verifier::reuse_window`.

use std::{cell::RefCell, collections::BTreeMap, rc::Rc};

use edgeauth_core::{
    AccessError, Claims, KeySet, ReuseWindow, Revocations, Route, RoutePolicy, TokenSource,
    Verifier, VerifyError, access_token,
};

use crate::{
    config::{Config, JwksSource},
    error::Problem,
};

/// The prefix of the headers the gate owns, in canonical form (see
/// [`canonical_header_name`]); a client never gets one to the origin.
pub(crate) const IDENTITY_HEADER_PREFIX: &str = "x-edgeauth-";

/// Headers that ask an origin to act as if the method were another one,
/// in canonical form; the gate decided on the request's real method, so
/// they never reach the origin.
pub(crate) const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// A header name as origins may read it: lowercase, with `_` and `.` as
/// `-` (CGI, WSGI, Rack and older Puma fold `X_Edgeauth_Sub` and
/// `x-edgeauth.sub` into the same `HTTP_X_EDGEAUTH_SUB` as `X-Edgeauth-Sub`).
pub(crate) fn canonical_header_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether a client's header is removed before forwarding, on every
/// route: any spelling of an `X-Edgeauth-*` name (or of `X-Edgeauth`
/// itself) and any spelling of a method override.
///
/// Every such name, lowercased, contains `edgeauth` or `method`:
/// `src/forward.js` asks only about those names.
pub(crate) fn strips_header(name: &str) -> bool {
    let name = canonical_header_name(name);
    name.starts_with(IDENTITY_HEADER_PREFIX)
        || IDENTITY_HEADER_PREFIX.strip_suffix('-') == Some(name.as_str())
        || METHOD_OVERRIDE_HEADERS.contains(&name.as_str())
}

/// The user id header.
pub(crate) const SUB_HEADER: &str = "X-Edgeauth-Sub";
/// The session id header.
pub(crate) const SID_HEADER: &str = "X-Edgeauth-Sid";
/// The comma-separated roles header.
pub(crate) const ROLES_HEADER: &str = "X-Edgeauth-Roles";

/// How many verified tokens a gate remembers (see [`Gate::decide`]).
pub(crate) const VERIFIED_TOKENS: usize = 1024;

/// The gate for one deployment: its rules, its verifier and its origin.
#[derive(Debug)]
pub(crate) struct Gate {
    verifier: Verifier,
    routes: RoutePolicy,
    origin: String,
    jwks_url: Option<String>,
    access_cookie: String,
    /// Tokens that verified, by their exact text, with the times at which
    /// the core lets their result be reused.
    verified: RefCell<BTreeMap<String, (Rc<Claims>, ReuseWindow)>>,
}

/// A copy starts with no remembered tokens: it is made to take new keys.
impl Clone for Gate {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            routes: self.routes.clone(),
            origin: self.origin.clone(),
            jwks_url: self.jwks_url.clone(),
            access_cookie: self.access_cookie.clone(),
            verified: RefCell::default(),
        }
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send it to the origin.
    Forward {
        /// The origin's base, the canonical path the rules matched, and the
        /// query as it came.
        url: String,
        /// The caller's identity, on protected routes.
        identity: Option<Identity>,
    },
    /// Answer it from the edge.
    Deny(Denial),
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// The token failed verification (401).
    Token(VerifyError),
    /// The route rules refuse the request (401 `missing_token` or 403).
    Access(AccessError),
    /// No revocation feed may be relied on (503, retry after these seconds).
    RevocationsUnavailable(u64),
}

/// What the gate knows of revoked sessions when it decides a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation<'a> {
    /// No feed is configured: no revocation is checked.
    Off,
    /// The last good feed, current: a token of a session in it is `revoked`.
    Feed(&'a Revocations),
    /// A feed is configured but none may be relied on: protected routes
    /// fail closed (`revocations_unavailable`, retry after these seconds).
    Unavailable(u64),
}

impl Denial {
    #[cfg(test)]
    /// The stable error code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Token(e) => e.code(),
            Self::Access(e) => e.code(),
            Self::RevocationsUnavailable(_) => "revocations_unavailable",
        }
    }

    /// The answer to send.
    pub(crate) fn problem(self) -> Problem {
        match self {
            Self::Token(e) => Problem::invalid_token(e),
            Self::Access(e) => Problem::access(e),
            Self::RevocationsUnavailable(s) => Problem::revocations_unavailable(s),
        }
    }
}

impl Decision {
    /// Whether the token names a key the gate does not hold: the one denial
    /// that a fresh key set might turn around.
    pub(crate) fn is_unknown_key(&self) -> bool {
        matches!(self, Self::Deny(Denial::Token(VerifyError::UnknownKey)))
    }

    /// Whether a protected request was refused for want of a usable
    /// revocation feed: the denial that a successful feed fetch turns around.
    pub(crate) fn is_revocations_unavailable(&self) -> bool {
        matches!(self, Self::Deny(Denial::RevocationsUnavailable(_)))
    }
}

/// Who a verified token belongs to, as the origin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity(Rc<Claims>);

impl Identity {
    #[cfg(test)]
    /// An identity for these claims (tests; the gate makes them in `decide`).
    pub(crate) fn new(claims: Rc<Claims>) -> Self {
        Self(claims)
    }

    /// The verified claims.
    pub(crate) fn claims(&self) -> &Claims {
        &self.0
    }

    /// The headers to add, with values made safe for HTTP: bytes outside
    /// visible ASCII, `%` and (in roles) `,` are percent-encoded, so a value
    /// can neither break the header nor fake a second role.
    pub(crate) fn headers(&self) -> [(&'static str, String); 3] {
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
    pub(crate) fn new(config: &Config) -> Self {
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
            access_cookie: config.access_cookie.clone(),
            verified: RefCell::default(),
        }
    }

    /// The access token of a request from its `Authorization` and `Cookie`
    /// headers, and where it was found: a `Bearer` token, else the access
    /// cookie (the core's rule, the server's too).
    pub(crate) fn token<'a>(
        &self,
        authorization: Option<&'a str>,
        cookie: Option<&'a str>,
    ) -> Option<(&'a str, TokenSource)> {
        access_token(authorization, cookie, &self.access_cookie)
    }

    /// The access cookie's name.
    pub(crate) fn access_cookie(&self) -> &str {
        &self.access_cookie
    }

    /// Decides a request from its method, its path and query (`/a?b`; the
    /// rules ignore the query), its token if it has one, and the time in
    /// seconds since the epoch, with no revocation feed.
    #[cfg(test)]
    pub(crate) fn decide(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        now: u64,
    ) -> Decision {
        self.decide_with(method, path_and_query, token, now, Revocation::Off)
    }

    /// Decides a request from its method, its path and query (`/a?b`; the
    /// rules ignore the query), its token if it has one, the time in
    /// seconds since the epoch, and what is known of revoked sessions.
    ///
    /// The rules come first, so public routes need no token and no key. A
    /// path with no canonical form is denied; an allowed request is
    /// forwarded with the canonical path, which is what the rules matched.
    ///
    /// A token that verified is remembered by its exact text (up to
    /// [`VERIFIED_TOKENS`], until the keys change): presented again, it
    /// passes within the core's reuse window without its signature being
    /// checked again. Failures are not remembered. The revocation feed is
    /// consulted on every request, remembered token or not: a token of a
    /// revoked session is refused with `revoked` and, when no feed may be
    /// relied on, protected routes fail closed (public routes still pass).
    pub(crate) fn decide_with(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        now: u64,
        revocation: Revocation<'_>,
    ) -> Decision {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let route = self
            .routes
            .canonical_path(path)
            .and_then(|path| Ok((self.routes.route_canonical(method, &path)?, path)));
        let (route, path) = match route {
            Ok(routed) => routed,
            Err(e) => return Decision::Deny(Denial::Access(e)),
        };
        let identity = match route {
            Route::Public => None,
            Route::Protected(requirement) => {
                let Some(token) = token else {
                    return Decision::Deny(Denial::Access(AccessError::MissingToken));
                };
                let claims = match self.verify(token, now) {
                    Ok(claims) => claims,
                    Err(e) => return Decision::Deny(Denial::Token(e)),
                };
                match revocation {
                    Revocation::Off => {}
                    Revocation::Feed(feed) if feed.contains(&claims.sid) => {
                        return Decision::Deny(Denial::Token(VerifyError::Revoked));
                    }
                    Revocation::Feed(_) => {}
                    Revocation::Unavailable(retry_after) => {
                        return Decision::Deny(Denial::RevocationsUnavailable(retry_after));
                    }
                }
                if let Err(e) = requirement.check(&claims) {
                    return Decision::Deny(Denial::Access(e));
                }
                Some(Identity(claims))
            }
        };
        Decision::Forward {
            url: self.origin_url(path.as_str(), query),
            identity,
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
        if let Some((claims, window)) = known {
            return window.check(now).map(|()| claims);
        }
        let claims = Rc::new(self.verifier.verify(token, now)?);
        let window = self.verifier.reuse_window(&claims);
        if let Ok(mut verified) = self.verified.try_borrow_mut() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.retain(|_, (_, window)| window.check(now).is_ok());
                if verified.len() >= VERIFIED_TOKENS {
                    verified.clear();
                }
            }
            verified.insert(token.to_owned(), (Rc::clone(&claims), window));
        }
        Ok(claims)
    }

    /// The JWKS URL, when keys are fetched rather than given inline.
    pub(crate) fn jwks_url(&self) -> Option<&str> {
        self.jwks_url.as_deref()
    }

    /// Replaces the trusted keys after a fetch, forgetting every token
    /// verified with the old ones.
    pub(crate) fn set_keys(&mut self, keys: KeySet) {
        self.verifier.set_keys(keys);
        self.verified.get_mut().clear();
    }

    #[cfg(test)]
    /// The keys trusted now.
    pub(crate) fn keys(&self) -> &KeySet {
        self.verifier.keys()
    }

    /// The verifier (its keys and issuer also check the revocation feed).
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The origin's base, then `path` and the query if there is one.
    fn origin_url(&self, path: &str, query: Option<&str>) -> String {
        let query_len = query.map_or(0, |q| q.len() + 1);
        let mut url = String::with_capacity(self.origin.len() + path.len() + query_len);
        url.push_str(&self.origin);
        url.push_str(path);
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

/// The path and query of an absolute URL (`/` when it has no path); the
/// fragment, if any, is dropped.
pub(crate) fn path_and_query(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = after_scheme
        .find('/')
        .and_then(|at| after_scheme.get(at..))
        .unwrap_or("/");
    rest.split('#').next().unwrap_or(rest)
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
            access_cookie: "at".into(),
            trust: crate::trust::Trust::default(),
            revocations: None,
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

    /// Forwarded to `path` on the test origin, with no identity.
    fn forwarded(path: &str) -> Decision {
        Decision::Forward {
            url: format!("http://127.0.0.1:9{path}"),
            identity: None,
        }
    }

    fn denied(code: &str) -> impl Fn(&Decision) -> bool + '_ {
        move |d| matches!(d, Decision::Deny(denial) if denial.code() == code)
    }

    #[test]
    fn public_routes_need_no_token_and_carry_no_identity() {
        let gate = gate_with(&[]);
        assert_eq!(gate.decide("GET", "/", None, NOW), forwarded("/"));
        // Not even a bad one is looked at.
        assert_eq!(
            gate.decide("GET", "/", Some("garbage"), NOW),
            forwarded("/")
        );
    }

    #[test]
    fn a_get_rule_covers_head() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        assert_eq!(gate.decide("HEAD", "/", None, NOW), forwarded("/"));
        let token = k1.sign(&claims(&[])).unwrap();
        // The POST-only rule does not stretch to HEAD.
        assert!(denied("route_denied")(&gate.decide(
            "HEAD",
            "/write",
            Some(&token),
            NOW
        )));
    }

    #[test]
    fn allowed_requests_carry_the_identity() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        let token = k1.sign(&claims(&["admin", "editor"])).unwrap();
        let Decision::Forward {
            identity: Some(identity),
            url,
        } = gate.decide("DELETE", "/admin/users/7", Some(&token), NOW)
        else {
            panic!("not forwarded");
        };
        assert_eq!(url, "http://127.0.0.1:9/admin/users/7");
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
    fn the_feed_refuses_revoked_sessions_and_fails_closed_when_unavailable() {
        let k1 = key("k1", 1);
        let gate = gate_with(&[&k1]);
        let token = k1.sign(&claims(&[])).unwrap();
        let feed_of = |sids: &[&str]| {
            let text = Revocations::sign(&k1, ISS, NOW, NOW + 300, sids);
            Revocations::verify(&text, gate.verifier().keys(), ISS, NOW).unwrap()
        };
        let (others, revoked) = (feed_of(&["other"]), feed_of(&["other", "session-1"]));
        let decide = |revocation| gate.decide_with("GET", "/api/x", Some(&token), NOW, revocation);
        assert!(matches!(decide(Revocation::Off), Decision::Forward { .. }));
        assert!(matches!(
            decide(Revocation::Feed(&others)),
            Decision::Forward { .. }
        ));
        // Remembered from the passes above, and still refused once revoked.
        let d = decide(Revocation::Feed(&revoked));
        assert!(denied("revoked")(&d), "{d:?}");
        let d = decide(Revocation::Unavailable(3));
        assert!(d.is_revocations_unavailable());
        let Decision::Deny(denial) = d else { panic!() };
        let problem = denial.problem();
        assert_eq!((problem.status(), problem.retry_after()), (503, Some(3)));
        // Public routes and tokenless requests do not need the feed.
        let public = gate.decide_with("GET", "/", None, NOW, Revocation::Unavailable(3));
        assert_eq!(public, forwarded("/"));
        let missing = gate.decide_with("GET", "/api/x", None, NOW, Revocation::Unavailable(3));
        assert!(denied("missing_token")(&missing));
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
            Decision::Forward {
                identity: Some(_),
                ..
            }
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
                Decision::Forward {
                    identity: Some(_),
                    ..
                }
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
            Decision::Forward {
                identity: Some(_),
                ..
            }
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
                Decision::Forward {
                    identity: Some(_),
                    ..
                }
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
    fn tokens_from_bearer_or_the_configured_cookie() {
        let gate = gate_with(&[]);
        let cookie = Some("edgeauth_session=old; at=tok.en.c");
        let bearer = Some(("abc", TokenSource::Bearer));
        let from_cookie = Some(("tok.en.c", TokenSource::Cookie));
        assert_eq!(gate.token(Some("Bearer abc"), cookie), bearer);
        assert_eq!(gate.token(Some("Basic Zm9v"), cookie), from_cookie);
        assert_eq!(gate.token(None, cookie), from_cookie);
        assert_eq!(gate.token(None, Some("edgeauth_session=x")), None);
        assert_eq!(gate.token(Some("Bearer "), cookie), None);
    }

    #[test]
    fn stripped_header_names_are_canonical() {
        for name in [IDENTITY_HEADER_PREFIX]
            .into_iter()
            .chain(METHOD_OVERRIDE_HEADERS)
        {
            assert_eq!(canonical_header_name(name), name);
        }
        assert_eq!(canonical_header_name("X_Edgeauth.Sub"), "x-edgeauth-sub");
    }

    #[test]
    fn client_spellings_of_gate_headers_are_stripped() {
        for (name, _) in Identity(Rc::new(Claims::default())).headers() {
            assert!(strips_header(name), "{name}");
            assert!(strips_header(&name.replace('-', "_")), "{name}");
            assert!(
                strips_header(&name.to_ascii_uppercase().replace('-', ".")),
                "{name}"
            );
        }
        for name in [
            "X-Http-Method-Override",
            "X_METHOD_OVERRIDE",
            "x.http.method",
        ] {
            assert!(strips_header(name), "{name}");
        }
        for name in [
            "X-Edgeauthx-Sub",
            "X-Request-Id",
            "X-Http-Methods",
            "Authorization",
        ] {
            assert!(!strips_header(name), "{name}");
        }
    }

    #[test]
    fn the_origin_gets_the_canonical_path_and_the_query_unchanged() {
        let gate = gate_with(&[]);
        for (target, path) in [
            ("/", "/"),
            (
                "/%7eme/caf%c3%a9/?x=%2e%2e/&y=%20",
                "/~me/caf%C3%A9/?x=%2e%2e/&y=%20",
            ),
            ("/a%2db/é?", "/a-b/%C3%A9?"),
            ("/docs/a b", "/docs/a%20b"),
        ] {
            let routes = RoutePolicy::from_json(r#"[{"path":"/**","public":true}]"#).unwrap();
            let gate = Gate {
                routes,
                ..gate.clone()
            };
            assert_eq!(
                gate.decide("GET", target, None, NOW),
                forwarded(path),
                "{target}"
            );
        }
        for target in ["/public/..;/admin", "//admin", "/a%2Fb", "/a%00"] {
            assert!(
                denied("route_denied")(&gate.decide("GET", target, None, NOW)),
                "{target}"
            );
        }
        assert_eq!(path_and_query("https://h/p?q#f"), "/p?q");
        assert_eq!(path_and_query("https://h"), "/");
    }
}
