//! Request parsing shared by the handlers: bodies (JSON or form, with
//! problem+json errors), cookies, the Origin check, and the access-token
//! extractor that every protected endpoint uses.

use std::sync::Arc;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header, request::Parts},
};
pub(crate) use edgeauth_core::TokenSource;
use edgeauth_core::{Claims, cookie_value};
use serde::de::DeserializeOwned;

use crate::{error::AppError, state::AppState, store::User};

/// What a body claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Json,
    Form,
    Other,
    Missing,
}

pub(crate) fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return BodyKind::Missing;
    };
    let Ok(value) = value.to_str() else {
        return BodyKind::Other;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        BodyKind::Json
    } else if essence == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else {
        BodyKind::Other
    }
}

/// Parses a JSON body: 415 for another media type, 400 for bad syntax, 422
/// for the wrong shape.
pub(crate) fn json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, AppError> {
    if body_kind(headers) != BodyKind::Json {
        return Err(AppError::UnsupportedMediaType("application/json"));
    }
    parse_json(body)
}

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AppError::Unprocessable {
            code: "invalid_body",
            detail: format!("the JSON body does not have the expected shape: {e}"),
        },
        _ => AppError::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
    })
}

/// Parses an `application/x-www-form-urlencoded` body.
pub(crate) fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::bad_request("the form body is malformed"))
}

/// The `Cookie` headers of a request that are text.
fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// The value of a cookie, if the request carries it (the core's reading,
/// the gate's too).
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_headers(headers)
        .find_map(|header| cookie_value(header, name))
        .filter(|v| !v.is_empty())
}

/// The User-Agent, shortened, for the session list.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect())
}

/// The core's cookie CSRF rule (the gate's too): a request whose token
/// came from a cookie and whose method is unsafe needs its `Origin`, or
/// failing that its `Referer`'s origin, among the allowed origins.
pub(crate) fn check_csrf(
    state: &AppState,
    method: &Method,
    source: TokenSource,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    edgeauth_core::check_csrf(
        method.as_str(),
        source,
        header(header::ORIGIN),
        header(header::REFERER),
        &state.config.cookies.allowed_origins,
    )
    .map_err(|_| AppError::CsrfRejected)
}

/// A cookie-authenticated state change on a `POST` endpoint (refresh,
/// logout) must come from an allowed origin ([`check_csrf`]).
pub(crate) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    check_csrf(state, &Method::POST, TokenSource::Cookie, headers)
}

/// The access token of a request, without verifying it, by the core's rule
/// (the gate's too): `Authorization: Bearer`, else the access cookie.
/// Never fails today; the `Result` keeps the callers' shape.
pub(crate) fn access_token<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
) -> Result<Option<(&'a str, TokenSource)>, AppError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Ok(edgeauth_core::access_token(
        authorization,
        cookie_headers(headers),
        &state.config.cookies.access_name,
    ))
}

/// Verifies an access token and checks that its session is still live;
/// returns the claims and the session's user.
pub(crate) async fn verify_access(
    state: &AppState,
    token: &str,
    now: u64,
) -> Result<(Claims, Arc<User>), AppError> {
    Ok(state.sessions.verify_access(token, now).await?)
}

/// A request with a valid access token whose session is live. For
/// cookie-authenticated state changes the Origin has been checked too.
#[derive(Debug)]
pub(crate) struct Authenticated {
    pub(crate) claims: Claims,
    pub(crate) user: Arc<User>,
    pub(crate) now: u64,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let now = state.now();
        let (token, source) = access_token(state, &parts.headers)?.ok_or(AppError::MissingToken)?;
        let (claims, user) = verify_access(state, token, now).await?;
        check_csrf(state, &parts.method, source, &parts.headers)?;
        Ok(Self { claims, user, now })
    }
}
