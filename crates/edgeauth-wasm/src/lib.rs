//! wasm-bindgen bindings over `edgeauth-core`, built into the npm package
//! `@edgeauth/verify` (`pkg/`, see `pkg/scripts/build.sh`).
//!
//! Bindings only: every decision (is this token good, may it do this) is the
//! core's. This crate converts arguments and results across the boundary:
//!
//! - claims leave as JSON text (one string crossing; `JSON.parse` on the
//!   other side is cheaper than building the object field by field);
//! - a failure leaves as one thrown string, `code:status:message` (status is
//!   `0` when the error has no HTTP status); pkg/src/api.js turns it into a
//!   `VerifyError`;
//! - `now` arrives as a JavaScript number (an integer, checked by the JS
//!   wrapper) rather than a `BigInt`, which is slower to pass.
//!
//! The plain-Rust halves (`*_impl`, [`Failure`]) carry the logic of the
//! conversion so that native unit tests cover them; the `#[wasm_bindgen]`
//! items only map [`Failure`] to a `JsValue`.

use edgeauth_core::{
    AccessError, AssertionError, AssertionKeys, Claims, GateAssertion, KeyRefreshPolicy, KeySet,
    Need, Plan, PolicyError, Requirement, VerifyError,
};
use sha2::{Digest, Sha512};
use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

#[wasm_bindgen]
extern "C" {
    /// A JavaScript function `(sid: string) => boolean`: is this session revoked?
    pub type RevocationCheck;

    #[wasm_bindgen(method, catch, js_name = call)]
    fn call(this: &RevocationCheck, this_arg: &JsValue, sid: &str) -> Result<JsValue, JsValue>;
}

mod json;

/// An error on its way to JavaScript: the core's code, HTTP status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    code: &'static str,
    status: u16,
    message: String,
}

impl Failure {
    /// The `code:status:message` string that crosses the boundary.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.code.len() + self.message.len() + 5);
        out.push_str(self.code);
        out.push(':');
        json::push_uint(&mut out, u64::from(self.status));
        out.push(':');
        out.push_str(&self.message);
        out
    }
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        Self {
            code: e.code(),
            status: e.http_status(),
            message: e.to_string(),
        }
    }
}

impl From<AccessError> for Failure {
    fn from(e: AccessError) -> Self {
        Self {
            code: e.code(),
            status: e.http_status(),
            message: e.to_string(),
        }
    }
}

impl From<PolicyError> for Failure {
    fn from(e: PolicyError) -> Self {
        Self {
            code: e.code(),
            status: 0,
            message: e.to_string(),
        }
    }
}

impl From<edgeauth_core::KeySetError> for Failure {
    fn from(e: edgeauth_core::KeySetError) -> Self {
        Self {
            code: e.code(),
            status: 0,
            message: e.to_string(),
        }
    }
}

impl From<AssertionError> for Failure {
    fn from(e: AssertionError) -> Self {
        Self {
            code: e.code(),
            status: e.http_status(),
            message: e.to_string(),
        }
    }
}

fn thrown(failure: Failure) -> JsValue {
    JsValue::from_str(&failure.encode())
}

/// Checks tokens against a key set, an issuer and an audience
/// (`edgeauth_core::Verifier`).
#[wasm_bindgen]
pub struct Verifier {
    inner: edgeauth_core::Verifier,
}

impl Verifier {
    /// [`Verifier::new`] without the JavaScript error conversion.
    pub fn new_impl(
        jwks: &str,
        issuer: &str,
        audience: &str,
        leeway: u32,
        require_type: bool,
    ) -> Result<Self, Failure> {
        let inner = edgeauth_core::Verifier::new(KeySet::from_jwks(jwks)?, issuer, audience)
            .with_leeway(u64::from(leeway))
            .with_type_required(require_type);
        Ok(Self { inner })
    }

    /// [`Verifier::verify`] without the JavaScript error conversion.
    pub fn verify_impl(&self, token: &str, now: f64) -> Result<String, Failure> {
        // The wrapper passes a safe non-negative integer; `as` saturates anyway.
        let claims = self.inner.verify(token, now as u64)?;
        Ok(claims.to_json())
    }
}

#[wasm_bindgen]
impl Verifier {
    /// A verifier for tokens from `issuer` meant for `audience`. `jwks` is
    /// the JWKS document's text.
    #[wasm_bindgen(constructor)]
    pub fn new(
        jwks: &str,
        issuer: &str,
        audience: &str,
        leeway: u32,
        require_type: bool,
    ) -> Result<Verifier, JsValue> {
        Self::new_impl(jwks, issuer, audience, leeway, require_type).map_err(thrown)
    }

    /// Replaces the trusted keys with those of another JWKS document.
    #[wasm_bindgen(js_name = setJwks)]
    pub fn set_jwks(&mut self, jwks: &str) -> Result<(), JsValue> {
        let keys = KeySet::from_jwks(jwks).map_err(|e| thrown(e.into()))?;
        self.inner.set_keys(keys);
        Ok(())
    }

    /// The ids of the trusted keys, in JWKS order.
    pub fn kids(&self) -> Vec<String> {
        self.inner.keys().kids().map(String::from).collect()
    }

    /// Verifies `token` at `now` (seconds) and returns its claims as JSON.
    pub fn verify(&self, token: &str, now: f64) -> Result<String, JsValue> {
        self.verify_impl(token, now).map_err(thrown)
    }

    /// The core's reuse window of claims that verified (their `iat`, `nbf`
    /// and `exp`): `[from, until]`, the seconds between which the result
    /// may be reused (`from <= now < until`).
    #[wasm_bindgen(js_name = reuseWindow)]
    pub fn reuse_window(&self, iat: f64, nbf: f64, exp: f64) -> Box<[f64]> {
        // The values come from claims the core parsed: integers below 2^64.
        let claims = Claims {
            iat: iat as u64,
            nbf: nbf as u64,
            exp: exp as u64,
            ..Claims::default()
        };
        let window = self.inner.reuse_window(&claims);
        Box::new([window.from() as f64, window.until() as f64])
    }

    /// Takes the revocation feed fetched by the ticket `ticket` (its text
    /// and `Cache-Control`, empty if none) into `feed` if it verifies
    /// against these keys and this issuer and is not older than the last
    /// good one: returns true, or false when it was older (the last good
    /// one stays). Throws the core's code
    /// (`bad_signature`, `wrong_type`, `unknown_key`, `expired`,
    /// `wrong_issuer`, `malformed`, `token_too_large`) when it is refused.
    #[wasm_bindgen(js_name = acceptRevocations)]
    pub fn accept_revocations(
        &self,
        feed: &mut RevocationFeed,
        ticket: f64,
        text: &str,
        now_ms: f64,
        cache_control: &str,
    ) -> Result<bool, JsValue> {
        self.accept_revocations_impl(feed, ticket, text, now_ms, cache_control)
            .map_err(thrown)
    }

    /// Like `verify`, and refuses the token (`revoked`) when `is_revoked`
    /// returns a truthy value for its session id. An exception thrown by
    /// `is_revoked` is rethrown.
    #[wasm_bindgen(js_name = verifyRevocable)]
    pub fn verify_revocable(
        &self,
        token: &str,
        now: f64,
        is_revoked: &RevocationCheck,
    ) -> Result<String, JsValue> {
        let mut exception = None;
        let result = self.inner.verify_with(token, now as u64, |sid| {
            match is_revoked.call(&JsValue::UNDEFINED, sid) {
                Ok(answer) => answer.is_truthy(),
                Err(e) => {
                    exception = Some(e);
                    true
                }
            }
        });
        if let Some(e) = exception {
            return Err(e);
        }
        result
            .map(|claims| claims.to_json())
            .map_err(|e| thrown(e.into()))
    }
}

/// Ordered route rules (`edgeauth_core::RoutePolicy`).
#[wasm_bindgen]
pub struct RoutePolicy {
    inner: edgeauth_core::RoutePolicy,
}

impl RoutePolicy {
    /// [`RoutePolicy::route`] without the JavaScript error conversion.
    pub fn route_impl(
        &self,
        method: &str,
        path: &str,
        grants: Option<(Vec<String>, Vec<String>)>,
    ) -> Result<String, Failure> {
        let grants = grants
            .as_ref()
            .map(|(roles, perms)| (roles.as_slice(), perms.as_slice()));
        let path = self.inner.canonical_path(path)?;
        self.inner
            .route_canonical(method, &path)?
            .check_grants(grants)?;
        Ok(path.into_inner().into_owned())
    }
}

#[wasm_bindgen]
impl RoutePolicy {
    /// Loads route rules from their JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(rules: &str) -> Result<RoutePolicy, JsValue> {
        edgeauth_core::RoutePolicy::from_json(rules)
            .map(|inner| Self { inner })
            .map_err(|e| thrown(e.into()))
    }

    /// Decides a request and returns its canonical path (the core's, which
    /// the rules matched). `has_token` says whether the request carries a
    /// verified token, whose `roles` and `perms` follow.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        has_token: bool,
        roles: Vec<String>,
        perms: Vec<String>,
    ) -> Result<String, JsValue> {
        self.route_impl(method, path, has_token.then_some((roles, perms)))
            .map_err(thrown)
    }
}

/// What [`KeyRefresh::plan`] answers: do nothing.
pub const PLAN_SKIP: u8 = 0;
/// Start a fetch.
pub const PLAN_START: u8 = 1;
/// Wait for the fetch under way.
pub const PLAN_WAIT: u8 = 2;

/// When to refetch a JWKS (`edgeauth_core::KeyRefresh` with the default
/// policy, the edge gate's schedule). Times are milliseconds since the epoch.
#[wasm_bindgen]
pub struct KeyRefresh {
    inner: edgeauth_core::KeyRefresh,
}

#[wasm_bindgen]
impl KeyRefresh {
    /// A schedule that holds no key set yet: the gate's, with the fetch
    /// timeout and the staleness bound given (milliseconds) or the
    /// defaults.
    #[wasm_bindgen(constructor)]
    pub fn new(fetch_timeout_ms: Option<f64>, max_staleness_ms: Option<f64>) -> KeyRefresh {
        let policy = policy(
            KeyRefreshPolicy::DEFAULT,
            fetch_timeout_ms,
            max_staleness_ms,
        );
        Self {
            inner: edgeauth_core::KeyRefresh::new(policy),
        }
    }

    /// How long a fetch may take, in milliseconds.
    #[wasm_bindgen(getter, js_name = fetchTimeoutMs)]
    pub fn fetch_timeout_ms(&self) -> f64 {
        self.inner.policy().fetch_timeout_ms as f64
    }

    /// Whether a key set is held and still trusted at `now_ms` (fetched
    /// within the staleness bound).
    pub fn usable(&self, now_ms: f64) -> bool {
        self.inner.is_usable(now_ms as u64)
    }

    /// Whole seconds until the next fetch the schedule allows (at least 1).
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&self, now_ms: f64) -> f64 {
        self.inner.retry_after(now_ms as u64) as f64
    }

    /// What to do at `now_ms`, for an unknown key or (otherwise) routinely:
    /// [`PLAN_SKIP`], [`PLAN_START`] or [`PLAN_WAIT`].
    pub fn plan(&self, unknown_key: bool, now_ms: f64) -> u8 {
        let need = if unknown_key {
            Need::UnknownKey
        } else {
            Need::Stale
        };
        plan_code(self.inner.plan(need, now_ms as u64))
    }

    /// Records that a fetch starts; returns its ticket.
    pub fn started(&mut self, now_ms: f64) -> f64 {
        self.inner.started(now_ms as u64) as f64
    }

    /// Records that the fetch `ticket` stored a key set fetched with this
    /// `Cache-Control` (empty: none).
    pub fn succeeded(&mut self, ticket: f64, now_ms: f64, cache_control: &str) {
        let cache_control = Some(cache_control).filter(|c| !c.is_empty());
        self.inner
            .succeeded(ticket as u64, now_ms as u64, cache_control);
    }

    /// Records that the fetch `ticket` failed (the last good set stays).
    pub fn failed(&mut self, ticket: f64) {
        self.inner.failed(ticket as u64);
    }
}

/// `default` with the fetch timeout and the staleness bound given
/// (milliseconds), if given.
fn policy(
    default: KeyRefreshPolicy,
    fetch_timeout_ms: Option<f64>,
    max_staleness_ms: Option<f64>,
) -> KeyRefreshPolicy {
    default
        .with_fetch_timeout_ms(fetch_timeout_ms.map_or(default.fetch_timeout_ms, |ms| ms as u64))
        .with_max_staleness_ms(max_staleness_ms.map_or(default.max_staleness_ms, |ms| ms as u64))
}

/// A [`Plan`] as [`PLAN_SKIP`], [`PLAN_START`] or [`PLAN_WAIT`].
fn plan_code(plan: Plan) -> u8 {
    match plan {
        Plan::Skip => PLAN_SKIP,
        Plan::Start => PLAN_START,
        Plan::Wait => PLAN_WAIT,
    }
}

/// A revocation feed and when to fetch it (`edgeauth_core::RevocationFeed`
/// on the `KeyRefreshPolicy::REVOCATIONS` schedule, the edge gate's). A
/// feed is taken with [`Verifier::accept_revocations`]. Times are
/// milliseconds since the epoch.
#[wasm_bindgen]
pub struct RevocationFeed {
    inner: edgeauth_core::RevocationFeed,
}

#[wasm_bindgen]
impl RevocationFeed {
    /// No feed yet, with the fetch timeout and the staleness bound given
    /// (milliseconds) or the defaults (5 s, 60 s).
    #[wasm_bindgen(constructor)]
    pub fn new(fetch_timeout_ms: Option<f64>, max_staleness_ms: Option<f64>) -> RevocationFeed {
        let policy = policy(
            KeyRefreshPolicy::REVOCATIONS,
            fetch_timeout_ms,
            max_staleness_ms,
        );
        Self {
            inner: edgeauth_core::RevocationFeed::new(policy),
        }
    }

    /// How long a fetch may take, in milliseconds.
    #[wasm_bindgen(getter, js_name = fetchTimeoutMs)]
    pub fn fetch_timeout_ms(&self) -> f64 {
        self.inner.policy().fetch_timeout_ms as f64
    }

    /// Whether the last good feed may be relied on at `now_ms`.
    pub fn usable(&self, now_ms: f64) -> bool {
        self.inner.current(now_ms as u64).is_some()
    }

    /// Asks the schedule at `now_ms` and, when it says to start a fetch (a
    /// due refresh, or a first fetch), records that one starts: returns
    /// its ticket (a time, never negative). Otherwise `-1`: nothing to do,
    /// the feed may be relied on; `-2`: wait for the fetch under way, no
    /// feed may be relied on; `-3`: nothing to start, no feed may be
    /// relied on. One call where there would be three (`plan`, `started`,
    /// `usable`), on every verification.
    pub fn begin(&mut self, now_ms: f64) -> f64 {
        let now = now_ms as u64;
        match self.inner.plan(now) {
            Plan::Skip if self.inner.current(now).is_some() => -1.0,
            Plan::Skip => -3.0,
            Plan::Wait => -2.0,
            Plan::Start => self.inner.started(now) as f64,
        }
    }

    /// Records that the fetch `ticket` failed (the last good feed stays).
    pub fn failed(&mut self, ticket: f64) {
        self.inner.failed(ticket as u64);
    }

    /// Whether the last good feed lists the session `sid`.
    pub fn revoked(&self, sid: &str) -> bool {
        self.inner.last().is_some_and(|feed| feed.contains(sid))
    }
}

impl Verifier {
    /// [`Verifier::accept_revocations`] without the JavaScript error conversion.
    pub fn accept_revocations_impl(
        &self,
        feed: &mut RevocationFeed,
        ticket: f64,
        text: &str,
        now_ms: f64,
        cache_control: &str,
    ) -> Result<bool, Failure> {
        let cache_control = Some(cache_control).filter(|c| !c.is_empty());
        Ok(feed.inner.accept(
            ticket as u64,
            text,
            &self.inner,
            now_ms as u64,
            cache_control,
        )?)
    }
}

/// The edge gate's public keys, for checking its origin assertions
/// (`edgeauth_core::GateAssertion`).
#[wasm_bindgen]
pub struct GateKeys {
    keys: AssertionKeys,
}

impl GateKeys {
    /// [`GateKeys::new`] without the JavaScript error conversion.
    pub fn new_impl(public_keys: &[String]) -> Result<Self, Failure> {
        let keys = AssertionKeys::parse(public_keys.iter().map(String::as_str))?;
        Ok(Self { keys })
    }

    /// [`GateKeys::verify`] without the JavaScript error conversion.
    pub fn verify_impl(
        &self,
        assertion: &str,
        method: &str,
        target: &str,
        now: f64,
        max_age: f64,
    ) -> Result<String, Failure> {
        let asserted = GateAssertion::verify(
            assertion,
            &self.keys,
            method,
            target,
            now as u64,
            max_age as u64,
        )?;
        Ok(asserted.to_json())
    }
}

#[wasm_bindgen]
impl GateKeys {
    /// Public keys (32 bytes, base64url), one or several during a rollover.
    #[wasm_bindgen(constructor)]
    pub fn new(public_keys: Vec<String>) -> Result<GateKeys, JsValue> {
        Self::new_impl(&public_keys).map_err(thrown)
    }

    /// Checks an assertion for a request with this method and target at
    /// `now` (seconds), allowing `max_age` seconds either way; returns its
    /// payload as JSON.
    pub fn verify(
        &self,
        assertion: &str,
        method: &str,
        target: &str,
        now: f64,
        max_age: f64,
    ) -> Result<String, JsValue> {
        self.verify_impl(assertion, method, target, now, max_age)
            .map_err(thrown)
    }
}

/// [`authorize`] without the JavaScript error conversion.
pub fn authorize_impl(
    roles: &[String],
    perms: &[String],
    any_roles: Vec<String>,
    all_roles: Vec<String>,
    required_perms: Vec<String>,
) -> Result<(), Failure> {
    let requirement = Requirement::new()
        .any_roles(any_roles)
        .and_then(|r| r.all_roles(all_roles))
        .and_then(|r| r.perms(required_perms))
        .map_err(|reason| Failure {
            code: reason.code(),
            status: 0,
            message: format!("invalid requirement: {reason}"),
        })?;
    Ok(requirement.check_grants(roles, perms)?)
}

/// Checks a token's `roles` and `perms` against a requirement: any of
/// `any_roles` (when not empty), all of `all_roles`, all of `required_perms`.
#[wasm_bindgen]
pub fn authorize(
    roles: Vec<String>,
    perms: Vec<String>,
    any_roles: Vec<String>,
    all_roles: Vec<String>,
    required_perms: Vec<String>,
) -> Result<(), JsValue> {
    authorize_impl(&roles, &perms, any_roles, all_roles, required_perms).map_err(thrown)
}

/// The cache key of a token: the first 128 bits of its SHA-512, in hex.
/// SHA-512 is already linked for Ed25519, so this costs no size.
#[wasm_bindgen(js_name = tokenDigest)]
pub fn token_digest(token: &str) -> String {
    let digest = Sha512::digest(token.as_bytes());
    let mut out = String::with_capacity(32);
    for &byte in digest.iter().take(16) {
        json::push_hex(&mut out, byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_cross_as_code_status_message() {
        assert_eq!(
            Failure::from(VerifyError::Expired).encode(),
            "expired:401:token expired"
        );
        assert_eq!(
            Failure::from(AccessError::RouteDenied).encode(),
            "route_denied:403:route denied"
        );
        let bad = Verifier::new_impl("{}", "i", "a", 30, true).err().unwrap();
        assert_eq!(
            bad.encode(),
            "invalid_jwks:0:invalid JWKS: missing \"keys\" array"
        );
    }

    #[test]
    fn authorize_reports_bad_names_as_invalid_policy() {
        let err = authorize_impl(&[], &[], vec![String::new()], vec![], vec![]).unwrap_err();
        assert_eq!(err.code, "invalid_policy");
        let none: &[String] = &[];
        assert_eq!(
            authorize_impl(none, none, vec![], vec!["admin".into()], vec![])
                .unwrap_err()
                .code,
            "insufficient_role"
        );
        assert!(authorize_impl(none, &["a.*".into()], vec![], vec![], vec!["a.b".into()]).is_ok());
    }

    #[test]
    fn the_refresh_schedule_is_the_cores() {
        let t0 = 1_767_225_600_000.0;
        let mut schedule = KeyRefresh::new(None, None);
        assert_eq!(schedule.plan(true, t0), PLAN_START);
        let ticket = schedule.started(t0);
        assert_eq!(schedule.plan(true, t0 + 1.0), PLAN_WAIT);
        assert_eq!(schedule.plan(false, t0 + 1.0), PLAN_SKIP);
        schedule.succeeded(ticket, t0, "max-age=120");
        assert_eq!(schedule.plan(false, t0 + 119_999.0), PLAN_SKIP);
        assert_eq!(schedule.plan(false, t0 + 120_000.0), PLAN_START);
        let ticket = schedule.started(t0 + 120_000.0);
        schedule.failed(ticket);
        assert_eq!(schedule.plan(true, t0 + 179_999.0), PLAN_SKIP);
        assert_eq!(schedule.plan(true, t0 + 180_000.0), PLAN_START);
    }

    #[test]
    fn the_staleness_bound_and_timeout_are_options() {
        let t0 = 1_767_225_600_000.0;
        let mut schedule = KeyRefresh::new(Some(500.0), Some(3_000.0));
        assert_eq!(schedule.fetch_timeout_ms(), 500.0);
        assert!(!schedule.usable(t0));
        let ticket = schedule.started(t0);
        assert_eq!(schedule.plan(true, t0 + 499.0), PLAN_WAIT);
        assert_eq!(
            schedule.plan(true, t0 + 5_500.0),
            PLAN_START,
            "a hung fetch is given up on"
        );
        schedule.succeeded(ticket, t0, "no-store");
        assert!(schedule.usable(t0 + 2_999.0));
        assert!(!schedule.usable(t0 + 3_000.0));
        assert_eq!(schedule.retry_after(t0 + 30_000.0), 30.0);
        assert_eq!(KeyRefresh::new(None, None).fetch_timeout_ms(), 10_000.0);
    }

    #[test]
    fn the_feed_schedule_and_acceptance_are_the_cores() {
        let t0 = 1_767_225_600_000.0;
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let verifier = Verifier::new_impl(jwks, "i", "a", 30, true).unwrap();
        let mut feed = RevocationFeed::new(None, None);
        assert_eq!(feed.fetch_timeout_ms(), 5_000.0);
        assert!(!feed.usable(t0));
        let ticket = feed.begin(t0);
        assert!(ticket >= 0.0);
        assert_eq!(feed.begin(t0 + 1.0), -2.0, "no usable feed: wait");
        let err = verifier
            .accept_revocations_impl(&mut feed, ticket, "a.b.c", t0, "")
            .unwrap_err();
        assert_eq!(err.code, "malformed");
        assert!(!feed.usable(t0) && !feed.revoked("s"));
        assert_eq!(feed.begin(t0 + 999.0), -3.0, "one fetch a second");
        assert!(feed.begin(t0 + 1_000.0) >= 0.0);
    }

    #[test]
    fn gate_assertions_cross_as_json_or_coded_failures() {
        let keys =
            GateKeys::new_impl(&["F8t5-ytBIPKx7GXkGY1uCLKOgT_rAeSkAIObheGAgM4".into()]).unwrap();
        let err = keys.verify_impl("", "GET", "/", 0.0, 60.0).unwrap_err();
        assert_eq!(err.encode(), "assertion_missing:403:no gate assertion");
        let err = keys
            .verify_impl("a.b.c", "GET", "/", 0.0, 60.0)
            .unwrap_err();
        assert_eq!(err.code, "assertion_malformed");
        let bad = GateKeys::new_impl(&["nope".into()]).err().unwrap();
        assert_eq!(
            bad.encode(),
            "invalid_assertion_key:0:invalid gate assertion key"
        );
        assert!(GateKeys::new_impl(&[]).is_err());
    }

    #[test]
    fn the_reuse_window_is_the_cores() {
        let jwks = r#"{"keys":[]}"#;
        let verifier = Verifier::new_impl(jwks, "i", "a", 30, true).unwrap();
        assert_eq!(
            &*verifier.reuse_window(1_000.0, 1_010.0, 1_900.0),
            &[980.0, 1_930.0]
        );
    }

    #[test]
    fn routing_answers_the_canonical_path() {
        let policy = RoutePolicy {
            inner: edgeauth_core::RoutePolicy::from_json(
                r#"[{"path":"/admin/**","require":{"any_roles":["admin"]}}]"#,
            )
            .unwrap(),
        };
        let admin = Some((vec!["admin".to_owned()], vec![]));
        assert_eq!(
            policy.route_impl("GET", "/%61dmin/caf%c3%a9/?q", admin.clone()),
            Ok("/admin/caf%C3%A9/".to_owned())
        );
        let code = |path: &str, grants| {
            policy
                .route_impl("GET", path, grants)
                .map_err(|f| f.encode())
        };
        assert_eq!(
            code("/admin/x", None),
            Err("missing_token:401:no access token".to_owned())
        );
        assert_eq!(
            code("/public/..;/admin/x", admin),
            Err("route_denied:403:route denied".to_owned())
        );
    }

    #[test]
    fn digest_is_128_bits_of_hex() {
        let d = token_digest("a.b.c");
        assert_eq!(d.len(), 32);
        assert!(d.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(d, token_digest("a.b.d"));
    }
}
