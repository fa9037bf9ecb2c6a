//! The Worker (wasm32 only): reads the request, asks the
//! [`Gate`](crate::gate::Gate), and answers from the edge or forwards to the
//! origin. Nothing here decides: the route rules, the verification, the key
//! refresh schedule and the problem rendering are the gate's and the core's.

use std::{cell::RefCell, rc::Rc};

use edgeauth_core::{
    ASSERTION_HEADER, KeyRefresh, KeyRefreshPolicy, KeySet, MAX_REVOCATIONS_LEN, Need,
    PROBLEM_JSON, Plan, REVOCATIONS_MEDIA_TYPE, RevocationFeed, TokenSource, VerifyError,
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
    gate::{Decision, Gate, Revocation, path_and_query, strips_header},
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
    /// The revocation feed, when `EDGEAUTH_REVOCATIONS_URL` is set.
    feed: Option<Feed>,
}

/// The revocation feed of an isolate: its URL, the last good feed with the
/// core's schedule, and the fetch under way (shared by every request).
struct Feed {
    url: String,
    schedule: RevocationFeed,
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
                    let feed = config.revocations.as_ref().map(|source| Feed {
                        url: source.url.clone(),
                        schedule: RevocationFeed::new(
                            KeyRefreshPolicy::REVOCATIONS
                                .with_max_staleness_ms(source.max_staleness.saturating_mul(1000)),
                        ),
                        in_flight: None,
                    });
                    if feed.is_none() {
                        console_warn!(
                            "edgeauth: EDGEAUTH_REVOCATIONS_URL is not set: no revocation is checked, a revoked session's tokens pass until they expire"
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
                        feed,
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
        Ok(Handled::Wait(request)) => future_to_promise(async move {
            match handle_waiting(&req, &env, &ctx, request).await {
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
    /// The token names a key not held, or no revocation feed may be relied
    /// on: fetch the key set or the feed, then decide.
    Wait(Parsed),
}

/// A request waiting for keys or the feed: what the gate needs of it, read
/// from it once, and the gate's first answer (an unknown key, or
/// `revocations_unavailable`).
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

    let decision = decide(&gate, &method, target, token.map(|(t, _)| t), now_ms);
    let credentials = with_state(|s| {
        s.trust.credentials(
            authorization.as_deref(),
            cookie.as_deref(),
            gate.access_cookie(),
        )
    })
    .unwrap_or_default();
    let must_wait = (decision.is_unknown_key() && gate.jwks_url().is_some())
        || decision.is_revocations_unavailable();
    if must_wait {
        return Ok(Handled::Wait(Parsed {
            token: token.map(|(t, source)| (t.to_owned(), source)),
            credentials,
            url,
            method,
            now_ms,
            decision,
        }));
    }
    // Serve with the keys and the feed at hand; refresh stale ones meanwhile.
    if let Some(jwks_url) = gate.jwks_url() {
        start_refresh(jwks_url, Need::Stale, now_ms, ctx);
    }
    start_feed_refresh(now_ms, ctx);
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

/// Decides with the revocation feed as it stands at `now_ms`: none
/// configured, the last good one, or none that may be relied on.
fn decide(gate: &Gate, method: &str, target: &str, token: Option<&str>, now_ms: u64) -> Decision {
    let now = now_ms / 1000;
    with_state(|s| {
        let revocation = match &s.feed {
            None => Revocation::Off,
            Some(feed) => match feed.schedule.current(now_ms) {
                Some(list) => Revocation::Feed(list),
                None => Revocation::Unavailable(feed.schedule.retry_after(now_ms)),
            },
        };
        gate.decide_with(method, target, token, now, revocation)
    })
    .unwrap_or_else(|| gate.decide_with(method, target, token, now, Revocation::Unavailable(1)))
}

/// The token's key is not held, or no revocation feed may be relied on:
/// fetch the key set (at most once a minute) or the feed (at most once a
/// second), or join the fetch under way, then decide again.
async fn handle_waiting(
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
        if decision.is_unknown_key()
            && let Some(promise) = start_refresh(jwks_url, Need::UnknownKey, now_ms, ctx)
        {
            // Never rejects: fetch_keys reports failures in the state.
            let _ = JsFuture::from(promise).await;
            gate = self::gate(env)?;
            decision = decide(&gate, &method, target, token_text, now_ms);
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
    if decision.is_revocations_unavailable()
        && let Some(promise) = start_feed_refresh(now_ms, ctx)
    {
        // Never rejects: fetch_feed reports failures in the state.
        let _ = JsFuture::from(promise).await;
        gate = self::gate(env)?;
        decision = decide(&gate, &method, target, token_text, now_ms);
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
    let promise = plan_refresh(url, need, now_ms)?;
    keep_alive(ctx, &promise);
    (need == Need::UnknownKey).then_some(promise)
}

/// Lets `promise` outlive the request that started or joined it.
fn keep_alive(ctx: &Context, promise: &js_sys::Promise) {
    let context: &worker::worker_sys::Context = ctx.as_ref();
    if let Err(e) = context.wait_until(promise) {
        console_warn!("edgeauth: waitUntil failed: {e:?}");
    }
}

/// The JWKS fetch to start or join for `need` at `now_ms`, if any.
fn plan_refresh(url: &str, need: Need, now_ms: u64) -> Option<js_sys::Promise> {
    with_state(|state| match state.cache.plan(need, now_ms) {
        Plan::Skip => None,
        Plan::Wait => state.in_flight.clone(),
        Plan::Start => {
            let ticket = state.cache.started(now_ms);
            let promise = future_to_promise(fetch_keys(url.to_owned(), ticket));
            state.in_flight = Some(promise.clone());
            Some(promise)
        }
    })?
}

/// Starts or joins a fetch of the revocation feed as the core's schedule
/// plans it (none when no feed is configured, or no key is held to check
/// it with): a due refresh of a current
/// feed in the background, at most once per its max-age; without a current
/// feed, the fetch that waiting requests share. Returns the fetch under way
/// or started, which outlives the request.
fn start_feed_refresh(now_ms: u64, ctx: &Context) -> Option<js_sys::Promise> {
    let promise = with_state(|state| {
        // No key yet (or none trusted): the feed could not be checked, and
        // the refused fetch would hold the next one back a second.
        if state.gate.verifier().keys().is_empty() {
            return None;
        }
        let feed = state.feed.as_mut()?;
        match feed.schedule.plan(now_ms) {
            Plan::Skip => None,
            Plan::Wait => feed.in_flight.clone(),
            Plan::Start => {
                let ticket = feed.schedule.started(now_ms);
                let promise = future_to_promise(fetch_feed(feed.url.clone(), ticket));
                feed.in_flight = Some(promise.clone());
                Some(promise)
            }
        }
    })??;
    keep_alive(ctx, &promise);
    Some(promise)
}

/// Fetches the revocation feed and has the core take it or refuse it
/// (the last good feed stays). A feed signed with a key not held prompts
/// a JWKS refetch (on the key set's own schedule) for the next attempt.
async fn fetch_feed(url: String, ticket: u64) -> Result<JsValue, JsValue> {
    let timeout = KeyRefreshPolicy::REVOCATIONS.fetch_timeout_ms;
    let outcome = fetch_text(
        &url,
        REVOCATIONS_MEDIA_TYPE,
        timeout,
        MAX_REVOCATIONS_LEN,
        false,
    )
    .await;
    let now_ms = clock_ms();
    let refused = with_state(|state| {
        let gate = Rc::clone(&state.gate);
        let feed = state.feed.as_mut()?;
        let refused = match outcome {
            Ok((text, cache_control)) => {
                match feed.schedule.accept(
                    ticket,
                    &text,
                    gate.verifier(),
                    now_ms,
                    cache_control.as_deref(),
                ) {
                    Ok(true) => None,
                    Ok(false) => Some(Err("older than the last good one".to_owned())),
                    Err(e) => Some(Ok(e)),
                }
            }
            Err(why) => {
                feed.schedule.failed(ticket);
                Some(Err(why))
            }
        };
        if !feed.schedule.is_fetching(now_ms) {
            feed.in_flight = None;
        }
        refused
    })
    .flatten();
    let Some(refused) = refused else {
        return Ok(JsValue::UNDEFINED);
    };
    match &refused {
        Ok(e) => console_warn!(
            "edgeauth: the revocation feed from {url} was refused ({}): the last good one stays",
            e.code()
        ),
        Err(why) => console_warn!(
            "edgeauth: the revocation feed from {url} was not taken ({why}): the last good one stays"
        ),
    }
    let jwks_url = with_state(|state| state.gate.jwks_url().map(str::to_owned)).flatten();
    if refused == Ok(VerifyError::UnknownKey)
        && let Some(jwks_url) = jwks_url
        && let Some(promise) = plan_refresh(&jwks_url, Need::UnknownKey, now_ms)
    {
        let _ = JsFuture::from(promise).await;
    }
    Ok(JsValue::UNDEFINED)
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
    let timeout = KeyRefreshPolicy::DEFAULT.fetch_timeout_ms;
    let (text, cache_control) =
        fetch_text(url, "application/json", timeout, usize::MAX, true).await?;
    let keys = KeySet::from_jwks(&text).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err("no Ed25519 signature key".to_owned());
    }
    Ok((keys, cache_control))
}

/// GETs `url` (giving up after `timeout_ms`) and answers its body and
/// `Cache-Control`: only a 200 answer counts, and a body declared longer
/// than `max_len` bytes is not read. Redirects are followed only when
/// `follow_redirects` (else a 3xx is a failure, so an https URL cannot be
/// sent elsewhere).
async fn fetch_text(
    url: &str,
    accept: &str,
    timeout_ms: u64,
    max_len: usize,
    follow_redirects: bool,
) -> Result<(String, Option<String>), String> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    if !follow_redirects {
        init.set_redirect(web_sys::RequestRedirect::Manual);
    }
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        u32::try_from(timeout_ms).unwrap_or(u32::MAX),
    )));
    let request =
        web_sys::Request::new_with_str_and_init(url, &init).map_err(|e| format!("{e:?}"))?;
    request
        .headers()
        .set("accept", accept)
        .map_err(|e| format!("{e:?}"))?;
    let response: web_sys::Response = JsFuture::from(global_fetch(&request))
        .await
        .and_then(JsCast::dyn_into)
        .map_err(|e| format!("{e:?}"))?;
    let headers = response.headers();
    if response.status() != 200 {
        let _ = response.body().map(|body| body.cancel());
        return Err(format!("status {}", response.status()));
    }
    let declared = headers.get("content-length").ok().flatten();
    if declared
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| n > max_len)
    {
        let _ = response.body().map(|body| body.cancel());
        return Err(format!("larger than {max_len} bytes"));
    }
    let cache_control = headers.get("cache-control").ok().flatten();
    let text = JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .as_string()
        .ok_or("body is not text")?;
    if text.len() > max_len {
        return Err(format!("larger than {max_len} bytes"));
    }
    Ok((text, cache_control))
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
