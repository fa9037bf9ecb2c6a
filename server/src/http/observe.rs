//! What every request leaves behind: an `X-Request-Id` on its response, a
//! tracing span carrying that id around every log line of the request, and
//! its count and duration in the metrics (by route template, never by
//! path).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{
    body::Body,
    extract::MatchedPath,
    http::{HeaderMap, HeaderName, HeaderValue, Request, Response},
    middleware::Next,
};
use tracing::Instrument as _;

use crate::{metrics, secret::random};

/// The request id header, on requests and responses.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id, in its extensions (audit events carry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(pub(crate) String);

/// The longest request id taken from a client.
const MAX_ID_LEN: usize = 128;

/// The request id, span and metrics layer; outermost, so it sees every
/// answer, panics and timeouts included.
pub(super) async fn layer(mut request: Request<Body>, next: Next) -> Response<Body> {
    let id = request_id(request.headers());
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| metrics::UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let method = metrics::method_label(request.method());
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    metrics::request(route, method, response.status(), started.elapsed());
    response
}

/// The client's `X-Request-Id` when it is well-formed (1 to 128 of
/// `A-Z a-z 0-9 . _ : -`), else a new random UUID.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| well_formed(id))
        .map_or_else(generate, str::to_owned)
}

fn well_formed(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A random UUID (v4); should the system's randomness fail, a process-wide
/// sequence number, still unique within the process.
fn generate() -> String {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    match random() {
        Ok(bytes) => uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
        Err(_) => format!("local-{}", FALLBACK.fetch_add(1, Ordering::Relaxed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID.clone(), HeaderValue::from_str(id).unwrap());
        headers
    }

    #[test]
    fn a_well_formed_id_is_kept_and_anything_else_replaced() {
        for kept in ["a", "req-1.2_3", "trace:4bf9:1", &"x".repeat(128)] {
            assert_eq!(request_id(&with(kept)), kept);
        }
        for replaced in [
            "",
            "has space",
            "semi;colon",
            "quote\"",
            &"x".repeat(129),
            "é",
        ] {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(replaced) {
                headers.insert(X_REQUEST_ID.clone(), v);
            }
            let id = request_id(&headers);
            assert_ne!(id, replaced);
            assert_eq!(id.len(), 36, "{id}");
            assert!(well_formed(&id));
        }
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }
}
