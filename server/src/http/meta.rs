//! `/.well-known/jwks.json` and `/healthz`.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::admin::Problems;
use crate::{error::AppError, state::AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jwks))
        .routes(routes!(healthz))
}

/// One public key (RFC 8037 OKP).
#[derive(Debug, Serialize, ToSchema)]
struct Jwk {
    kty: String,
    crv: String,
    x: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    #[schema(rename = "use")]
    use_: String,
}

/// The JWKS document.
#[derive(Debug, Serialize, ToSchema)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    status: String,
}

/// The public signing keys.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "well-known",
    responses((status = 200, description = "the JWKS", body = Jwks), Problems))]
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
/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "alive", body = Health)))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
