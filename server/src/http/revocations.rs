//! `GET /.well-known/revocations`: the signed revocation feed, with
//! `ETag` and `304 Not Modified`.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use edgeauth_core::REVOCATIONS_MEDIA_TYPE;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::admin::Problems;
use crate::{error::AppError, state::AppState};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(revocations))
}

/// The signed revocation feed (a compact JWS, docs/revocations.md).
#[utoipa::path(get, path = "/.well-known/revocations", tag = "well-known",
    responses(
        (status = 200, description = "the feed", body = String,
            content_type = "application/revocations+jwt"),
        (status = 304, description = "unchanged since If-None-Match"),
        Problems))]
async fn revocations(
    State(state): State<AppState>,
    request: HeaderMap,
) -> Result<Response, AppError> {
    let now = state.now();
    let feed = state
        .revocations
        .current(&*state.store, &state.keys, now)
        .await?;
    let unchanged = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == feed.etag
        });
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = feed.body.clone().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(REVOCATIONS_MEDIA_TYPE),
        );
        response
    };
    let headers = response.headers_mut();
    // What is left of the feed's time at this instance: a cache never
    // keeps it longer than the server would.
    let max_age = feed.until.saturating_sub(now);
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&feed.etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}
