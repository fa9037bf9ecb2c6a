//! The request deadlines (`EDGEAUTH_BODY_TIMEOUT`, `EDGEAUTH_REQUEST_TIMEOUT`):
//! a body that trickles in is cut off with 408 `request_timeout`, and a
//! request that takes too long in all is answered 503 `server_busy`. The
//! connection loop (`serve.rs`) bounds the headers and idle connections.
//!
//! The body is read here, whole and within the body limit, before any
//! handler runs: every endpoint takes a small body, and so no handler can
//! wait on a slow client.

use core::time::Duration;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, Request, Response, header},
    middleware::Next,
    response::IntoResponse as _,
};

use crate::{config::ConnectionSettings, error::AppError};

/// What the layer needs: the deadlines and the body limit in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    pub(super) connections: ConnectionSettings,
    pub(super) body_limit: usize,
}

pub(super) async fn layer(
    State(deadlines): State<Deadlines>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let ms = Duration::from_millis;
    let request_timeout = ms(deadlines.connections.request_timeout_ms);
    let answer = async {
        let (parts, body) = request.into_parts();
        let body = match tokio::time::timeout(
            ms(deadlines.connections.body_timeout_ms),
            axum::body::to_bytes(body, deadlines.body_limit),
        )
        .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => return body_error(e),
            Err(_) => return closing(AppError::RequestTimeout.into_response()),
        };
        next.run(Request::from_parts(parts, Body::from(body))).await
    };
    match tokio::time::timeout(request_timeout, answer).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout_ms = deadlines.connections.request_timeout_ms,
                "request timed out"
            );
            AppError::Busy(1).into_response()
        }
    }
}

/// A body that could not be read: too large (413), or the client broke
/// off (400; it will hardly read the answer).
fn body_error(e: axum::Error) -> Response<Body> {
    let error = if e.into_inner().is::<http_body_util::LengthLimitError>() {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("the request body could not be read")
    };
    closing(error.into_response())
}

/// The connection closes after this answer: the rest of the body, if any,
/// is not worth waiting for.
fn closing(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
