//! CORS for browser apps on other origins (the browser client,
//! `@edgeauth/client`): on `/auth/*` only, for the origins of
//! `ALLOWED_ORIGINS`, with credentials (the cookies).
//!
//! The allowed origin is echoed exactly (never `*`, which browsers refuse
//! with credentials anyway), every answer carries `Vary: Origin`, and a
//! request from any other origin gets no CORS header at all, so the browser
//! hides the answer from the page. Preflights are answered by the layer.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::delivery;
use crate::config::Config;

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: u64 = 600;

/// The CORS layer for the `/auth/*` routes.
pub(crate) fn layer(config: &Config) -> CorsLayer {
    let origins = config
        .cookies
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, PREFER])
        .expose_headers([
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static(delivery::PREFERENCE_APPLIED),
        ])
        .max_age(core::time::Duration::from_secs(PREFLIGHT_MAX_AGE))
}

const PREFER: HeaderName = HeaderName::from_static(delivery::PREFER);

/// Whether a response header is one the CORS layer set, which must survive
/// when an error answer is rewritten as problem+json.
pub(crate) fn is_cors_header(name: &HeaderName) -> bool {
    name == header::VARY || name.as_str().starts_with("access-control-")
}
