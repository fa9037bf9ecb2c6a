//! `/auth/register`, `/auth/token`, `/auth/refresh`, `/auth/logout`.

use core::net::IpAddr;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    account::UserView,
    admin::Problems,
    audit::Audit,
    client::ClientAddr,
    cookies, delivery,
    extract::{self, BodyKind, TokenSource},
};
use crate::{
    auth::{self, TokenPair, audit::AuditContext, refresh::RefreshToken},
    error::AppError,
    secret::SecretString,
    state::AppState,
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(token))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
struct RegisterBody {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    #[serde(default)]
    name: Option<String>,
}

/// `{"user": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
struct RegisteredBody {
    user: UserView,
}

/// Registers an account.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, description = "registered", body = RegisteredBody), Problems))]
async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    state.rates.register.check(client)?;
    let now = state.now();
    let body: RegisterBody = extract::json(&headers, &body)?;
    let verify = state.config.mail.require_verification;
    let user = state
        .accounts
        .register(&body.email, &body.password, body.name, verify, &ctx, now)
        .await?;
    if verify {
        state.outbox.wake();
    }
    let view = UserView::new(&user, Vec::new(), Vec::new());
    Ok((StatusCode::CREATED, Json(RegisteredBody { user: view })).into_response())
}

/// The token endpoint's parameters, from a form or a JSON body.
/// A token request: form `grant_type=password&username=&password=` or
/// `grant_type=refresh_token&refresh_token=`, or JSON `{email, password}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct TokenParams {
    grant_type: Option<String>,
    username: Option<String>,
    email: Option<String>,
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>, format = Password)]
    refresh_token: Option<SecretString>,
}

/// A token pair (cookies too, for browsers).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    session_id: &'a str,
}

/// The 200 answer with both tokens and `no-store`. The cookies are set
/// only for a request from an allowed origin (`Origin`, else `Referer`):
/// a page elsewhere cannot sign a browser in (login CSRF). With `Prefer:
/// refresh-token=cookie` from such an origin the body leaves the refresh
/// token out.
pub(crate) fn token_response(
    state: &AppState,
    request: &HeaderMap,
    pair: &TokenPair,
    now: u64,
) -> Response {
    let refresh_token = pair.granted.refresh_token.encode();
    let browser = extract::check_origin(state, request).is_ok();
    let cookie_only = browser && delivery::cookie_only(request);
    let body = TokenBody {
        access_token: &pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: (!cookie_only).then(|| refresh_token.clone()),
        session_id: &pair.granted.session_id,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    if cookie_only {
        delivery::mark_applied(headers);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if browser {
        cookies::set_pair(
            headers,
            state,
            &pair.access_token,
            &refresh_token,
            pair.granted.expires_at.saturating_sub(now),
        );
    }
    response
}

fn missing(what: &str) -> AppError {
    AppError::bad_request(format!("missing {what}"))
}

/// Signs in (password grant) or refreshes (refresh_token grant).
#[utoipa::path(post, path = "/auth/token", tag = "auth",
    request_body(content(
        (TokenParams = "application/x-www-form-urlencoded"),
        (TokenParams = "application/json"),
    )),
    responses((status = 200, description = "a token pair", body = TokenBody), Problems))]
async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    match token_grant(&state, client, &ctx, &headers, &body, now).await {
        Ok(pair) => token_response(&state, &headers, &pair, now),
        Err(e) => e.into_token_response(),
    }
}

async fn token_grant(
    state: &AppState,
    client: IpAddr,
    ctx: &AuditContext,
    headers: &HeaderMap,
    body: &[u8],
    now: u64,
) -> Result<TokenPair, AppError> {
    let kind = extract::body_kind(headers);
    let params: TokenParams = match kind {
        BodyKind::Form => extract::parse_form(body)?,
        BodyKind::Json => extract::parse_json(body)?,
        _ => {
            return Err(AppError::UnsupportedMediaType(
                "application/x-www-form-urlencoded or application/json",
            ));
        }
    };
    let grant = match (&params.grant_type, kind) {
        (Some(g), _) => g.as_str(),
        (None, BodyKind::Json) => "password",
        (None, _) => return Err(missing("grant_type")),
    };
    match grant {
        "password" => {
            state.rates.token.check(client)?;
            let email = params
                .username
                .or(params.email)
                .ok_or_else(|| missing("username"))?;
            let password = params.password.ok_or_else(|| missing("password"))?;
            Ok(auth::login(
                &state.accounts,
                &state.sessions,
                &email,
                &password,
                client,
                extract::user_agent(headers),
                ctx,
                state.config.mail.require_verification,
                now,
            )
            .await?)
        }
        "refresh_token" => {
            state.rates.refresh.check(client)?;
            let token = params
                .refresh_token
                .ok_or_else(|| missing("refresh_token"))?;
            let token = RefreshToken::parse(token.expose())?;
            Ok(state.sessions.refresh(&token, ctx, now).await?)
        }
        _ => Err(AppError::BadRequest {
            code: "unsupported_grant_type",
            detail: "grant_type must be password or refresh_token".into(),
        }),
    }
}

/// `{refresh_token}`, or none with the refresh cookie.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct RefreshBody {
    #[schema(value_type = Option<String>, format = Password)]
    refresh_token: Option<SecretString>,
}

/// The refresh token of a request: from a JSON body, or else from the
/// refresh cookie (then the Origin must be allowed).
fn presented_refresh(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<RefreshToken>, AppError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let parsed: RefreshBody = extract::json(headers, body)?;
        if let Some(token) = parsed.refresh_token {
            return Ok(Some(RefreshToken::parse(token.expose())?));
        }
    }
    match extract::cookie(headers, &state.config.cookies.refresh_name) {
        Some(token) => {
            extract::check_origin(state, headers)?;
            Ok(Some(RefreshToken::parse(token)?))
        }
        None => Ok(None),
    }
}

/// Rotates a refresh token into a new pair.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshBody>, content_type = "application/json"),
    responses((status = 200, description = "a token pair", body = TokenBody), Problems))]
async fn refresh(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    state.rates.refresh.check(client)?;
    let now = state.now();
    let token = presented_refresh(&state, &headers, &body)?.ok_or(AppError::InvalidRefreshToken)?;
    let pair = state.sessions.refresh(&token, &ctx, now).await?;
    Ok(token_response(&state, &headers, &pair, now))
}

/// Revokes the session of the bearer token if one is given, else that of
/// the refresh token (body or cookie), else that of the access cookie.
/// Revokes the current session and clears the cookies.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<RefreshBody>, content_type = "application/json"),
    security(("bearer" = []), ("cookie" = []), ()),
    responses((status = 204, description = "signed out"), Problems))]
async fn logout(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let now = state.now();
    let access = extract::access_token(&state, &headers)?;
    let session_id = match access {
        Some((token, TokenSource::Bearer)) => {
            Some(extract::verify_access(&state, token, now).await?.0.sid)
        }
        _ => match presented_refresh(&state, &headers, &body)? {
            Some(refresh) => state.sessions.logout_session(&refresh, &ctx, now).await?,
            None => match access {
                Some((token, _)) => {
                    extract::check_origin(&state, &headers)?;
                    Some(extract::verify_access(&state, token, now).await?.0.sid)
                }
                None => return Err(AppError::MissingToken),
            },
        },
    };
    if let Some(id) = session_id
        && let Some((session, _)) = state.store.session_with_user(&id).await?
    {
        let ctx = ctx.acted_by(&session.user_id);
        state
            .sessions
            .revoke_recorded(&id, &session.user_id, &ctx, now)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    cookies::clear(response.headers_mut(), &state);
    Ok(response)
}
