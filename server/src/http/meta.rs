//! `/.well-known/jwks.json` and `/healthz`.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{error::AppError, state::AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
}

/// The published keys: the signing key and retired keys whose tokens may
/// still be unexpired.
async fn jwks(State(state): State<AppState>) -> Result<Response, AppError> {
    let body = state.keys.jwks(&*state.store, state.now()).await?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "public, max-age={}",
        state.config.keys.jwks_max_age
    )) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

/// Liveness.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
