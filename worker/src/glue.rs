//! The Worker (wasm32 only): reads the request, asks the
//! [`Gate`](crate::gate::Gate), and answers from the edge or forwards to the
//! origin. Nothing here decides: the route rules, the verification, the key
//! refresh schedule and the problem rendering are the gate's and the core's.

use std::{cell::RefCell, rc::Rc};

use edgeauth_core::{
    ASSERTION_HEADER, KeyRefresh, KeyRefreshPolicy, KeySet, Need, PROBLEM_JSON, Plan, TokenSource,
};
use worker::{
    Context, Env, console_error, console_warn, js_sys,
    wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen},
    wasm_bindgen_futures::{JsFuture, future_to_promise},
    web_sys,
};

use crate::{
    config::{Config, ConfigError},
    error::Problem,
    gate::{Decision, Gate, path_and_query, strips_header},
    trust::{Credentials, Trust},
};

/// What the isolate keeps between requests: built from the settings on
/// the first request (settings cannot change within an isolate).
struct State {
    gate: Rc<Gate>,
    /// CSRF, assertion, credential and staleness settings.
    trust: Rc<Trust>,
    /// Whether the keys were withdrawn for staleness (see [`withdraw_stale_keys`]).
    withdrawn: bool,
    /// When to fetch the key set: the core's schedule.
    cache: KeyRefresh,
    /// The JWKS fetch under way, which other requests may wait for.
    in_flight: Option<js_sys::Promise>,
}

thread_local! {
    static STATE: RefCell<Option<Result<State, ConfigError>>> = const { RefCell::new(None) };
}

/// The one place that reads the clock: milliseconds since the epoch.
fn clock_ms() -> u64 {
    let ms = js_sys::Date::now();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

/// Runs `f` on the isolate's state, if it was built without error.
/// No borrow is held across an `await`, so the borrow cannot fail.
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|cell| match cell.try_borrow_mut().ok()?.as_mut() {
        Some(Ok(state)) => Some(f(state)),
        _ => None,
    })
}

/// The gate, building the state from `env` on first use.
fn gate(env: &Env) -> Result<Rc<Gate>, Problem> {
    STATE.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| Problem::internal_error())?;
        let state = slot.get_or_insert_with(|| {
            let config = Config::from_vars(|name| read_var(env, name));
            config
                .map(|config| {
                    if config.trust.signer.is_none() {
                        console_warn!(
                            "edgeauth: EDGEAUTH_ASSERTION_KEY is not set: requests reach the origin without an assertion"
                        );
                    }
                    let staleness_ms = config.trust.jwks_max_staleness.saturating_mul(1000);
                    State {
                        gate: Rc::new(Gate::new(&config)),
                        trust: Rc::new(config.trust),
                        withdrawn: false,
                        cache: KeyRefresh::new(
                            KeyRefreshPolicy::DEFAULT.with_max_staleness_ms(staleness_ms),
                        ),
                        in_flight: None,
                    }
                })
                .inspect_err(|e| console_error!("edgeauth: {e}"))
        });
        match state {
            Ok(state) => Ok(Rc::clone(&state.gate)),
            Err(e) => Err(Problem::config(e)),
        }
    })
}

/// A `[vars]` value as text: strings as they are, other JSON values
/// (a number, a TOML table) serialized.
fn read_var(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    value
        .as_string()
        .or_else(|| js_sys::JSON::stringify(&value).ok()?.as_string())
}

/// The Worker's `fetch` handler (what `#[event(fetch)]` would export,
/// minus its Rust future): a request the gate can decide at once (every
/// request but one whose key must first be fetched) is answered with
/// the origin's fetch promise itself, so the common path builds no
/// future, no waker closures and no extra promise; the rest runs as a
/// future. Failures become problem+json answers; the promise rejects
/// only if not even such an answer can be built.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
#[allow(
    unreachable_pub,
    reason = "wasm-bindgen exports only `pub` functions; the Worker's entry is the wasm export"
)]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> js_sys::Promise {
    let ctx = Context::new(ctx);
    match handle(&req, &env, &ctx) {
        Ok(Handled::Forward(promise)) => promise,
        Ok(Handled::NeedKeys(request)) => future_to_promise(async move {
            match handle_unknown_key(&req, &env, &ctx, request).await {
                Ok(promise) => Ok(promise.into()),
                Err(problem) => answer(&problem),
            }
        }),
        Err(problem) => match answer(&problem) {
            Ok(response) => js_sys::Promise::resolve(&response),
            Err(e) => js_sys::Promise::reject(&e),
        },
    }
}

/// What [`handle`] could do without waiting.
enum Handled {
    /// The origin's answer, under way.
    Forward(js_sys::Promise),
    /// The token names a key not held: fetch the key set, then decide.
    NeedKeys(Parsed),
}

/// A request waiting for keys: what the gate needs of it, read from it
/// once, and the gate's first answer (an unknown key).
struct Parsed {
    url: String,
    method: String,
    token: Option<(String, TokenSource)>,
    credentials: Credentials,
    now_ms: u64,
    decision: Decision,
}

fn handle(req: &web_sys::Request, env: &Env, ctx: &Context) -> Result<Handled, Problem> {
    let now_ms = clock_ms();
    let mut gate = gate(env)?;
    if withdraw_stale_keys(now_ms) {
        gate = self::gate(env)?;
    }
    let url = req.url();
    let target = path_and_query(&url);
    let method = req.method();
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let cookie = headers.get("cookie").ok().flatten();
    let token = gate.token(authorization.as_deref(), cookie.as_deref());

    let decision = gate.decide(&method, target, token.map(|(t, _)| t), now_ms / 1000);
    let credentials = with_state(|s| {
        s.trust.credentials(
            authorization.as_deref(),
            cookie.as_deref(),
            gate.access_cookie(),
        )
    })
    .unwrap_or_default();
    if let Some(jwks_url) = gate.jwks_url() {
        if decision.is_unknown_key() {
            return Ok(Handled::NeedKeys(Parsed {
                token: token.map(|(t, source)| (t.to_owned(), source)),
                credentials,
                url,
                method,
                now_ms,
                decision,
            }));
        }
        // Serve with the keys at hand; refresh stale ones meanwhile.
        start_refresh(jwks_url, Need::Stale, now_ms, ctx);
    }
    let source = token.map(|(_, source)| source);
    forward(req, decision, source, &credentials, now_ms).map(Handled::Forward)
}

/// Past `EDGEAUTH_JWKS_MAX_STALENESS` since the last successful JWKS fetch
/// (the core's [`KeyRefresh::is_usable`]), the gate stops trusting its
/// keys: it drops them, so every token names an unknown key and protected
/// routes answer 503 `jwks_unavailable` until a fetch succeeds. Returns
/// whether it dropped them now.
fn withdraw_stale_keys(now_ms: u64) -> bool {
    with_state(|state| {
        let stale = state.cache.loaded() && !state.cache.is_usable(now_ms);
        if stale && !state.withdrawn {
            console_error!("edgeauth: the JWKS could not be refreshed within EDGEAUTH_JWKS_MAX_STALENESS: its keys are no longer trusted");
            Rc::make_mut(&mut state.gate).set_keys(KeySet::new());
            state.withdrawn = true;
            return true;
        }
        false
    })
    .unwrap_or(false)
}

/// The token's key is not held: fetch the key set (at most once a
/// minute, or join the fetch under way), then decide again.
async fn handle_unknown_key(
    req: &web_sys::Request,
    env: &Env,
    ctx: &Context,
    request: Parsed,
) -> Result<js_sys::Promise, Problem> {
    let Parsed {
        url,
        method,
        token,
        credentials,
        now_ms,
        mut decision,
    } = request;
    let target = path_and_query(&url);
    let mut gate = gate(env)?;
    let token_text = token.as_ref().map(|(t, _)| t.as_str());
    if let Some(jwks_url) = gate.jwks_url() {
        if let Some(promise) = start_refresh(jwks_url, Need::UnknownKey, now_ms, ctx) {
            // Never rejects: fetch_keys reports failures in the state.
            let _ = JsFuture::from(promise).await;
            gate = self::gate(env)?;
            decision = gate.decide(&method, target, token_text, now_ms / 1000);
        }
        // No key set, or none trusted any more: fail closed, saying when
        // the next fetch may be tried.
        let unusable = with_state(|s| {
            let now = clock_ms();
            (!s.cache.is_usable(now)).then(|| s.cache.retry_after(now))
        });
        if let (true, Some(Some(retry_after))) = (decision.is_unknown_key(), unusable) {
            return Err(Problem::jwks_unavailable(retry_after));
        }
    }
    let source = token.map(|(_, source)| source);
    forward(req, decision, source, &credentials, now_ms)
}

/// Carries out a decision: a denial, or the request on its way to the
/// origin at the URL the gate chose (the canonical path, never the raw
/// one), with the client's `X-Edgeauth-*` and method-override headers
/// removed, whatever their spelling (every route; see [`strips_header`]),
/// and the identity headers added (protected routes).
/// `source` is where the request's token was found, `credentials` what
/// to change in its credential headers, `now_ms` the time the request was
/// read.
fn forward(
    req: &web_sys::Request,
    decision: Decision,
    source: Option<TokenSource>,
    credentials: &Credentials,
    now_ms: u64,
) -> Result<js_sys::Promise, Problem> {
    let (url, identity) = match decision {
        Decision::Deny(denial) => return Err(denial.problem()),
        Decision::Forward { url, identity } => (url, identity),
    };
    let trust = with_state(|s| Rc::clone(&s.trust)).ok_or_else(Problem::internal_error)?;
    let method = req.method();
    let incoming = req.headers();
    if let (Some(_), Some(source)) = (&identity, source) {
        let origin = incoming.get("origin").ok().flatten();
        let referer = incoming.get("referer").ok().flatten();
        trust.check_csrf(&method, source, origin.as_deref(), referer.as_deref())?;
    }
    let outbound = STRIP_HEADER
        .with(|strip| js::outbound(req, &url, strip))
        .map_err(internal)?;
    let headers = outbound.headers();
    if let Some(identity) = &identity {
        for (name, value) in identity.headers() {
            headers.set(name, &value).map_err(internal)?;
        }
    }
    let target = outbound.url();
    if let Some(assertion) = trust.assertion(
        &method,
        path_and_query(&target),
        now_ms / 1000,
        identity.as_ref(),
    ) {
        headers
            .set(ASSERTION_HEADER, &assertion)
            .map_err(internal)?;
    }
    if credentials.drop_authorization {
        headers.delete("authorization").map_err(internal)?;
    }
    match credentials.cookie.as_deref() {
        None => {}
        Some("") => headers.delete("cookie").map_err(internal)?,
        Some(kept) => headers.set("cookie", kept).map_err(internal)?,
    }
    Ok(ORIGIN_FAILED.with(|on_error| js::send(&outbound, on_error)))
}

thread_local! {
    /// Whether `src/forward.js` removes a header (asked only about names
    /// that contain `edgeauth` or `method`): made once per isolate.
    static STRIP_HEADER: Closure<dyn Fn(String) -> bool> =
        Closure::new(|name: String| strips_header(&name));
    /// What a failed origin fetch turns into: made once per isolate and
    /// kept, so forwarding creates no closure per request.
    static ORIGIN_FAILED: Closure<dyn FnMut(JsValue) -> JsValue> = Closure::new(|error: JsValue| {
        console_error!("edgeauth: origin fetch failed: {error:?}");
        answer(&Problem::bad_gateway()).unwrap_or(error)
    });
}

/// The JavaScript half of forwarding (`src/forward.js`).
mod js {
    use worker::{
        js_sys,
        wasm_bindgen::{self, prelude::wasm_bindgen},
        web_sys,
    };

    #[wasm_bindgen(module = "/src/forward.js", wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
    extern "C" {
        /// `new Request(url, request)` minus every header `strip` names.
        #[wasm_bindgen(catch)]
        pub(super) fn outbound(
            request: &web_sys::Request,
            url: &str,
            strip: &wasm_bindgen::closure::Closure<dyn Fn(String) -> bool>,
        ) -> Result<web_sys::Request, wasm_bindgen::JsValue>;

        /// `fetch(request).catch(on_error)`.
        pub(super) fn send(
            request: &web_sys::Request,
            on_error: &wasm_bindgen::closure::Closure<
                dyn FnMut(wasm_bindgen::JsValue) -> wasm_bindgen::JsValue,
            >,
        ) -> js_sys::Promise;
    }
}

/// Starts or joins a JWKS fetch as the cache plans it; the fetch
/// outlives this request if need be. Returns the fetch to wait for when
/// a key is unknown; a stale set's refresh runs in the background.
fn start_refresh(url: &str, need: Need, now_ms: u64, ctx: &Context) -> Option<js_sys::Promise> {
    let promise = with_state(|state| match state.cache.plan(need, now_ms) {
        Plan::Skip => None,
        Plan::Wait => state.in_flight.clone(),
        Plan::Start => {
            let ticket = state.cache.started(now_ms);
            let promise = future_to_promise(fetch_keys(url.to_owned(), ticket));
            state.in_flight = Some(promise.clone());
            Some(promise)
        }
    })??;
    let context: &worker::worker_sys::Context = ctx.as_ref();
    if let Err(e) = context.wait_until(&promise) {
        console_warn!("edgeauth: waitUntil failed: {e:?}");
    }
    (need == Need::UnknownKey).then_some(promise)
}

/// Fetches the JWKS and records the outcome; keeps the last good set
/// when it fails.
async fn fetch_keys(url: String, ticket: u64) -> Result<JsValue, JsValue> {
    let outcome = fetch_key_set(&url).await;
    let now_ms = clock_ms();
    with_state(|state| {
        match outcome {
            Ok((keys, cache_control)) => {
                Rc::make_mut(&mut state.gate).set_keys(keys);
                state.withdrawn = false;
                state
                    .cache
                    .succeeded(ticket, now_ms, cache_control.as_deref());
            }
            Err(why) => {
                console_warn!("edgeauth: JWKS fetch from {url} failed: {why}");
                state.cache.failed(ticket);
            }
        }
        if !state.cache.is_fetching(now_ms) {
            state.in_flight = None;
        }
    });
    Ok(JsValue::UNDEFINED)
}

async fn fetch_key_set(url: &str) -> Result<(KeySet, Option<String>), String> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    let timeout = KeyRefreshPolicy::DEFAULT.fetch_timeout_ms;
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        u32::try_from(timeout).unwrap_or(u32::MAX),
    )));
    let request =
        web_sys::Request::new_with_str_and_init(url, &init).map_err(|e| format!("{e:?}"))?;
    let response: web_sys::Response = JsFuture::from(global_fetch(&request))
        .await
        .and_then(JsCast::dyn_into)
        .map_err(|e| format!("{e:?}"))?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let cache_control = response.headers().get("cache-control").ok().flatten();
    let text = JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .as_string()
        .ok_or("body is not text")?;
    let keys = KeySet::from_jwks(&text).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err("no Ed25519 signature key".to_owned());
    }
    Ok((keys, cache_control))
}

fn global_fetch(request: &web_sys::Request) -> js_sys::Promise {
    js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .fetch_with_request(request)
}

/// Logs a failure of the Workers API once and answers generically.
fn internal(error: JsValue) -> Problem {
    console_error!("edgeauth: {error:?}");
    Problem::internal_error()
}

/// A problem+json answer.
fn answer(problem: &Problem) -> Result<JsValue, JsValue> {
    problem_response(problem).map(JsValue::from)
}

fn problem_response(problem: &Problem) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", PROBLEM_JSON)?;
    headers.set("cache-control", "no-store")?;
    if let Some(challenge) = problem.www_authenticate() {
        headers.set("www-authenticate", &challenge)?;
    }
    if let Some(seconds) = problem.retry_after() {
        headers.set("retry-after", &seconds.to_string())?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(problem.status());
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&problem.to_json()), &init)
}
