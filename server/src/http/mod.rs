//! The HTTP API (docs/server-api.md is the contract). Each area owns
//! its `router()`; [`app`] merges them and adds the cross-cutting layers.

mod account;
mod admin;
mod audit;
mod auth;
mod client;
mod cookies;
mod cors;
mod deadlines;
mod delivery;
mod email;
mod extract;
mod meta;
mod observe;
mod openapi;
mod revocations;

pub(crate) use account::rfc3339;
pub(crate) use openapi::document as openapi_document;

use std::any::Any;

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    http::{HeaderValue, Request, Response, StatusCode, header},
    middleware::{self, Next},
    response::IntoResponse,
};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    error::{AppError, PROBLEM_JSON, Problem},
    state::AppState,
};

/// The whole application, ready to serve or to drive with `oneshot`.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.server.body_limit;
    let deadlines = deadlines::Deadlines {
        connections: state.config.connections,
        body_limit,
    };
    let cors = cors::layer(&state.config);
    let (router, _) = routes(|r| r.layer(cors)).split_for_parts();
    router
        .fallback(|| async { AppError::NotFound("not_found") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(deadlines, deadlines::layer))
        .layer(middleware::from_fn(problems_and_headers))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(observe::layer))
        .with_state(state)
}

/// Every route with its documentation; `auth_layers` wraps the `/auth/*`
/// routes (CORS when serving, nothing for the document).
fn routes(
    auth_layers: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::Base::openapi())
        .merge(auth_layers(
            auth::router()
                .merge(account::router())
                .merge(email::router()),
        ))
        .merge(meta::router())
        .merge(revocations::router())
        .merge(admin::router())
        .merge(audit::router())
        .merge(openapi::router())
}

/// Every error leaves as problem+json, including those axum produces itself
/// (405, 413, extractor rejections); every response gets `nosniff`, and
/// `no-store` unless it set its own caching. Requests are logged at debug,
/// without query strings or headers (tokens never reach a log line).
async fn problems_and_headers(request: Request<Body>, next: Next) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let status = response.status();
    // A problem, or a page of the email flows, which answer a form's
    // failure in HTML.
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes() == PROBLEM_JSON.as_bytes() || v.as_bytes().starts_with(b"text/html")
        });
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let kept: Vec<_> = response
            .headers()
            .iter()
            .filter(|(name, _)| *name == header::ALLOW || cors::is_cors_header(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        response = Problem::for_status(status);
        response.headers_mut().extend(kept);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::debug!(%method, %path, status = status.as_u16(), elapsed_us = started.elapsed().as_micros(), "request");
    response
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    let mut response = AppError::Internal("handler panicked".into()).into_response();
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
