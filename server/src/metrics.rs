//! Metrics, through the `metrics` facade: every metric's name and labels
//! are here, with the one-line calls the rest of the server makes at its
//! decision points. Without `EDGEAUTH_METRICS_BIND` no recorder is
//! installed and every call is a no-op.
//!
//! Labels are bounded: a route template (or `unmatched`), a method from a
//! fixed list, a status, an outcome or a limit's name. Never an email, a
//! user or session id, a token or an address. docs/operations.md lists
//! every metric.

use core::time::Duration;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::{net::TcpListener, sync::OwnedSemaphorePermit, task::JoinHandle};

use crate::{
    auth::AuthError,
    auth::tokens::KeyState,
    config::Config,
    serve::{self, Stop},
    state::AppState,
    store::AnyStore,
};

/// Requests answered, by `route`, `method`, `status`.
pub(crate) const HTTP_REQUESTS: &str = "edgeauth_http_requests_total";
/// Time to answer, by `route`.
pub(crate) const HTTP_DURATION: &str = "edgeauth_http_request_duration_seconds";
/// Open connections, by `listener`.
pub(crate) const CONNECTIONS: &str = "edgeauth_http_connections";
/// Connections closed at once because the cap was reached, by `listener`.
pub(crate) const CONNECTIONS_REFUSED: &str = "edgeauth_http_connections_refused_total";
/// Password sign-ins decided, by `outcome`.
pub(crate) const LOGINS: &str = "edgeauth_logins_total";
/// Refresh-token rotations decided, by `outcome`.
pub(crate) const REFRESHES: &str = "edgeauth_refreshes_total";
/// Requests refused by a limit, by `limit`.
pub(crate) const THROTTLED: &str = "edgeauth_throttled_total";
/// Time a password check waited for an argon2 slot.
pub(crate) const HASH_QUEUE_WAIT: &str = "edgeauth_password_hash_queue_wait_seconds";
/// Database connections, by `state` (`idle`, `in_use`); set at each scrape.
pub(crate) const DB_POOL: &str = "edgeauth_db_pool_connections";
/// Age of the store's signing key; set at each scrape.
pub(crate) const SIGNING_KEY_AGE: &str = "edgeauth_signing_key_age_seconds";
/// Gauge: sessions listed in the revocation feed this instance last built.
pub(crate) const REVOCATION_FEED: &str = "edgeauth_revocation_feed_sessions";
/// Mail attempts finished by the outbox sender, by `outcome` (`sent`,
/// `retried`, `failed`, `dropped`).
pub(crate) const MAILS: &str = "edgeauth_mails_total";

/// Histogram buckets, in seconds, for request and queue times.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The route label of a request that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// Installs the Prometheus recorder for the process (once, at `serve`).
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    let mut builder = PrometheusBuilder::new();
    for name in [HTTP_DURATION, HASH_QUEUE_WAIT] {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), BUCKETS)
            .map_err(|e| e.to_string())?;
    }
    let handle = builder.install_recorder().map_err(|e| e.to_string())?;
    for (name, help) in [
        (HTTP_REQUESTS, "HTTP requests answered"),
        (
            CONNECTIONS_REFUSED,
            "connections closed at once: the connection cap was reached",
        ),
        (LOGINS, "password sign-ins by outcome"),
        (REFRESHES, "refresh-token rotations by outcome"),
        (THROTTLED, "requests refused by a limit"),
        (
            MAILS,
            "mail attempts finished by the outbox sender, by outcome",
        ),
    ] {
        describe_counter!(name, help);
    }
    for (name, help) in [
        (CONNECTIONS, "open HTTP connections"),
        (DB_POOL, "database connections by state"),
        (
            REVOCATION_FEED,
            "sessions listed in the last revocation feed built",
        ),
    ] {
        describe_gauge!(name, help);
    }
    for (name, help) in [
        (HTTP_DURATION, "time from a request's headers to its answer"),
        (
            HASH_QUEUE_WAIT,
            "time a password check waited for an argon2 slot",
        ),
    ] {
        describe_histogram!(name, metrics::Unit::Seconds, help);
    }
    describe_gauge!(
        SIGNING_KEY_AGE,
        metrics::Unit::Seconds,
        "age of the signing key"
    );
    Ok(handle)
}

/// The label of a method: the standard ones by name, anything else `other`
/// (a client may send any token as a method).
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request answered.
pub(crate) fn request(route: String, method: &'static str, status: StatusCode, took: Duration) {
    histogram!(HTTP_DURATION, "route" => route.clone()).record(took.as_secs_f64());
    counter!(
        HTTP_REQUESTS,
        "route" => route,
        "method" => method,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
}

/// A connection closed at once: the cap was reached.
pub(crate) fn connection_refused(listener: &'static str) {
    counter!(CONNECTIONS_REFUSED, "listener" => listener).increment(1);
}

/// An open connection, counted while it lives; it holds its slot under
/// the connection cap.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    listener: &'static str,
    _slot: OwnedSemaphorePermit,
}

impl OpenConnection {
    pub(crate) fn new(listener: &'static str, slot: OwnedSemaphorePermit) -> Self {
        gauge!(CONNECTIONS, "listener" => listener).increment(1.0);
        Self {
            listener,
            _slot: slot,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!(CONNECTIONS, "listener" => self.listener).decrement(1.0);
    }
}

/// A password sign-in's credential check, decided: `success`,
/// `invalid_credentials` or `throttled` (which also counts in
/// [`THROTTLED`] as `login`). Checks that failed for another reason (the
/// hashing queue full, the database down) are not decisions.
pub(crate) fn login<T>(result: &Result<T, AuthError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(AuthError::InvalidCredentials) => "invalid_credentials",
        Err(AuthError::TooManyAttempts(_)) => {
            throttled("login");
            "throttled"
        }
        Err(_) => return,
    };
    counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// How a presented refresh token was decided.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refresh {
    /// An unused token, rotated.
    Rotated,
    /// The token just rotated, again within the grace window: the same
    /// successor.
    GraceReplay,
    /// A used token: the family is revoked.
    Reused,
    /// Unknown, or its session is over.
    Invalid,
}

/// A refresh decided.
pub(crate) fn refresh(outcome: Refresh) {
    let outcome = match outcome {
        Refresh::Rotated => "rotated",
        Refresh::GraceReplay => "grace_replay",
        Refresh::Reused => "reused",
        Refresh::Invalid => "invalid",
    };
    counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// A mail attempt finished by the outbox sender.
pub(crate) fn mail(outcome: &crate::store::MailOutcome) {
    use crate::store::MailOutcome as O;
    let outcome = match outcome {
        O::Sent => "sent",
        O::Retry { .. } => "retried",
        O::Failed { .. } => "failed",
        O::Dropped => "dropped",
    };
    counter!(MAILS, "outcome" => outcome).increment(1);
}

/// A request refused by the limit named `limit`.
/// The size of a revocation feed just built.
pub(crate) fn revocation_feed(sessions: usize) {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a count of sessions is far below 2^52"
    )]
    gauge!(REVOCATION_FEED).set(sessions as f64);
}

pub(crate) fn throttled(limit: &'static str) {
    counter!(THROTTLED, "limit" => limit).increment(1);
}

/// A wait for an argon2 slot: how long, and whether it got one (if not,
/// the request was shed, counted as throttled by `hash_queue`).
pub(crate) fn hash_slot(waited: Duration, got: bool) {
    if got {
        histogram!(HASH_QUEUE_WAIT).record(waited.as_secs_f64());
    } else {
        throttled("hash_queue");
    }
}

/// What a scrape reads besides the recorder.
#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    state: AppState,
    store: AnyStore,
}

/// The metrics listener's app: `GET /metrics`, Prometheus text. Gauges of
/// the database pool and the signing key are read at each scrape.
pub(crate) fn router(handle: PrometheusHandle, state: AppState, store: AnyStore) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            handle,
            state,
            store,
        })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    let pool = scrape.store.pool_connections();
    gauge!(DB_POOL, "state" => "idle").set(f64::from(pool.idle));
    gauge!(DB_POOL, "state" => "in_use").set(f64::from(pool.in_use));
    match scrape.state.key_list().await {
        Ok(keys) => {
            if let Some(signing) = keys.iter().find(|k| k.state == KeyState::Current) {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "an age in seconds is far below 2^52"
                )]
                let age = scrape.state.now().saturating_sub(signing.activates_at) as f64;
                gauge!(SIGNING_KEY_AGE).set(age);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the signing keys failed"),
    }
    scrape.handle.run_upkeep();
    let mut response = (StatusCode::OK, scrape.handle.render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Connections the metrics listener serves at once: a scraper or two.
const METRICS_MAX_CONNECTIONS: usize = 8;

/// Starts the metrics listener when `EDGEAUTH_METRICS_BIND` is set: installs
/// the recorder, binds, says where on standard output (beside the
/// "listening on" line; tests read it to find an ephemeral port), and serves
/// until `stop` with the public listener's deadlines.
pub(crate) async fn listen(
    config: &Config,
    state: &AppState,
    store: &AnyStore,
    stop: Stop,
) -> Result<Option<JoinHandle<()>>, String> {
    let Some(bind) = config.telemetry.metrics_bind else {
        return Ok(None);
    };
    let handle = install()?;
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| format!("EDGEAUTH_METRICS_BIND ({bind}): {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("EDGEAUTH_METRICS_BIND ({bind}): {e}"))?;
    tracing::info!(%addr, "metrics listening");
    println!("edgeauth metrics on http://{addr}/metrics");
    let app = router(handle, state.clone(), store.clone());
    Ok(Some(tokio::spawn(serve::serve(
        listener,
        app,
        config.connections,
        METRICS_MAX_CONNECTIONS,
        "metrics",
        stop,
    ))))
}
