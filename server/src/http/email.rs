//! The email flows' endpoints (docs/server-api.md, "Email flows"), and the
//! small HTML pages that the mailed links open.
//!
//! A GET of a mailed link only answers a page whose form POSTs the token
//! (with a new password, for a reset): mail scanners follow links, so a
//! GET never spends one. The POST endpoints take JSON, or the page's form
//! (`application/x-www-form-urlencoded`), and answer a form with a page.
//! Every endpoint that queues mail takes from the per-address mail rate.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use minijinja::{Value, context};
use serde::{Deserialize, de::DeserializeOwned};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    admin::Problems,
    audit::Audit,
    auth::token_response,
    client::ClientAddr,
    cookies,
    extract::{self, Authenticated, BodyKind},
};
use crate::{
    auth::{audit::AuditContext, email, mailer::Kind},
    error::AppError,
    secret::SecretString,
    state::AppState,
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_verification))
        .routes(routes!(verify_page, verify))
        .routes(routes!(forgot))
        .routes(routes!(reset_page, reset))
        .routes(routes!(change_password))
        .routes(routes!(magic_link_page, magic_link))
        .routes(routes!(magic_link_verify))
        .routes(routes!(email_change_page, email_change))
        .routes(routes!(email_change_confirm))
        .routes(routes!(delete_me))
}

/// How to answer: JSON clients get status codes and problem+json, the
/// link pages' forms get a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Json,
    Page,
}

/// A body from JSON or a form, and how to answer it.
fn params<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<(T, Reply), AppError> {
    match extract::body_kind(headers) {
        BodyKind::Json => Ok((extract::parse_json(body)?, Reply::Json)),
        BodyKind::Form => Ok((extract::parse_form(body)?, Reply::Page)),
        _ => Err(AppError::UnsupportedMediaType(
            "application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// A page: HTML with a policy that allows no script, no framing, and
/// forms posting only here; the link's token never leaves in a Referer.
fn page(state: &AppState, status: StatusCode, name: &str, values: Value) -> Response {
    let html = match state.mailer.page(name, values) {
        Ok(html) => html,
        Err(e) => return AppError::internal(e).into_response(),
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A result page.
fn result(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    let ok = status.is_success();
    page(
        state,
        status,
        "result",
        context! { title, message, ok, back => ok.then(|| state.config.mail.public_url.clone()) },
    )
}

/// A failure, as the client asked: problem+json, or a page (server
/// errors stay problem+json, logged once there).
fn failure(state: &AppState, reply: Reply, error: AppError) -> Response {
    if reply == Reply::Json || error.status().is_server_error() {
        return error.into_response();
    }
    let message = match error.code() {
        "invalid_token" => {
            "This link is not valid: it was already used, or it is not a link of this kind. Ask for a new one.".to_owned()
        }
        "token_expired" => "This link has expired. Ask for a new one.".to_owned(),
        _ => {
            let shown = error.to_string();
            shown
                .split_once(": ")
                .map_or(shown.clone(), |(_, detail)| detail.to_owned())
        }
    };
    result(state, error.status(), "That did not work", &message)
}

/// The answer to a flow: `ok` as JSON, or a page saying `done`.
fn answer(
    state: &AppState,
    reply: Reply,
    outcome: Result<(), AppError>,
    ok: StatusCode,
    title: &str,
    done: &str,
) -> Response {
    match (outcome, reply) {
        (Ok(()), Reply::Json) => ok.into_response(),
        (Ok(()), Reply::Page) => result(state, StatusCode::OK, title, done),
        (Err(e), reply) => failure(state, reply, e),
    }
}

/// A mailed link's query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The link's token.
    token: Option<String>,
}

/// The page a mailed link opens: a form that POSTs its token to `action`.
fn link_page(
    state: &AppState,
    query: TokenQuery,
    action: &str,
    title: &str,
    message: &str,
    button: &str,
    password: bool,
) -> Response {
    let Some(token) = query.token.filter(|t| !t.is_empty()) else {
        return result(
            state,
            StatusCode::BAD_REQUEST,
            "Incomplete link",
            "This link is incomplete: open the whole link from the mail.",
        );
    };
    let min_length = state.config.passwords.rules.min_length;
    page(
        state,
        StatusCode::OK,
        "form",
        context! { title, message, action, token, button, password, min_length },
    )
}

#[utoipa::path(get, path = "/auth/email/verify", tag = "email", params(TokenQuery),
    responses((status = 200, description = "a page whose form POSTs the token; nothing is spent", content_type = "text/html")))]
async fn verify_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    link_page(
        &state,
        q,
        "/auth/email/verify",
        "Verify your email address",
        "Confirm that this address is yours.",
        "Verify my address",
        false,
    )
}

#[utoipa::path(get, path = "/auth/password/reset", tag = "email", params(TokenQuery),
    responses((status = 200, description = "a page whose form POSTs the token; nothing is spent", content_type = "text/html")))]
async fn reset_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    link_page(
        &state,
        q,
        "/auth/password/reset",
        "Choose a new password",
        "Your new password replaces the old one, and every session is signed out.",
        "Set my new password",
        true,
    )
}

#[utoipa::path(get, path = "/auth/magic-link", tag = "email", params(TokenQuery),
    responses((status = 200, description = "a page whose form POSTs the token; nothing is spent", content_type = "text/html")))]
async fn magic_link_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    link_page(
        &state,
        q,
        "/auth/magic-link/verify",
        "Sign in",
        "Sign in with the link from your mail.",
        "Sign me in",
        false,
    )
}

#[utoipa::path(get, path = "/auth/email/change", tag = "email", params(TokenQuery),
    responses((status = 200, description = "a page whose form POSTs the token; nothing is spent", content_type = "text/html")))]
async fn email_change_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    link_page(
        &state,
        q,
        "/auth/email/change/confirm",
        "Confirm your new address",
        "Make this address the one of your account.",
        "Confirm my new address",
        false,
    )
}

/// A mailed token.
#[derive(Debug, Deserialize, ToSchema)]
struct TokenBody {
    #[schema(value_type = String)]
    token: SecretString,
}

/// An address to mail.
#[derive(Debug, Deserialize, ToSchema)]
struct EmailBody {
    email: String,
}

#[utoipa::path(post, path = "/auth/email/verify/send", tag = "email",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, description = "a verification mail is queued"), Problems))]
async fn send_verification(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
) -> Result<Response, AppError> {
    state.rates.mail.check(client)?;
    email::send_verification(&*state.store, &auth.user, auth.now).await?;
    state.outbox.wake();
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The links whose spending only confirms something.
#[derive(Debug, Clone, Copy)]
enum Confirm {
    Verify,
    EmailChange,
}

/// Spends a verification or email-change link: 204, or from the link's
/// page a page.
async fn confirm(
    state: &AppState,
    ctx: &AuditContext,
    headers: &HeaderMap,
    body: &[u8],
    what: Confirm,
) -> Response {
    let now = state.now();
    let (body, reply) = match params::<TokenBody>(headers, body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let token = body.token.expose();
    let (outcome, title, done) = match what {
        Confirm::Verify => (
            email::verify(&*state.store, token, ctx, now).await,
            "Address verified",
            "Your email address is verified.",
        ),
        Confirm::EmailChange => (
            email::confirm_email_change(&*state.store, &state.sessions, token, ctx, now).await,
            "Address changed",
            "Your account now has this address.",
        ),
    };
    answer(
        state,
        reply,
        outcome.map_err(AppError::from),
        StatusCode::NO_CONTENT,
        title,
        done,
    )
}

#[utoipa::path(post, path = "/auth/email/verify", tag = "email",
    request_body(content(
        (TokenBody = "application/json"),
        (TokenBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 204, description = "the address is verified"), Problems))]
async fn verify(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    confirm(&state, &ctx, &headers, &body, Confirm::Verify).await
}

/// A reset or a magic link asked for by address: 202 whether or not an
/// account has it, after the same work (one outbox row).
async fn by_address(
    state: &AppState,
    client: core::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
    kind: Kind,
) -> Response {
    let asked = async {
        state.rates.mail.check(client)?;
        let (body, reply) = params::<EmailBody>(headers, body)?;
        email::request_by_address(&*state.store, kind, &body.email, state.now()).await?;
        // The sender is not woken: it finds the row at its next look
        // (within a second), so the work that depends on whether the
        // address is known (minting a link, sending) does not follow this
        // request at once, where the next request could time it.
        Ok::<_, AppError>(reply)
    };
    match asked.await {
        Ok(Reply::Json) => StatusCode::ACCEPTED.into_response(),
        Ok(Reply::Page) => result(
            state,
            StatusCode::ACCEPTED,
            "Check your mail",
            "If an account has this address, a mail is on its way to it.",
        ),
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(post, path = "/auth/password/forgot", tag = "email",
    request_body(content(
        (EmailBody = "application/json"),
        (EmailBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 202, description = "the same answer for every address"), Problems))]
async fn forgot(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    by_address(&state, client, &headers, &body, Kind::Reset).await
}

#[utoipa::path(post, path = "/auth/magic-link", tag = "email",
    request_body(content(
        (EmailBody = "application/json"),
        (EmailBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 202, description = "the same answer for every address"), Problems))]
async fn magic_link(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    by_address(&state, client, &headers, &body, Kind::MagicLink).await
}

/// A reset: the mailed token and the new password.
#[derive(Debug, Deserialize, ToSchema)]
struct ResetBody {
    #[schema(value_type = String)]
    token: SecretString,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(post, path = "/auth/password/reset", tag = "email",
    request_body(content(
        (ResetBody = "application/json"),
        (ResetBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 204, description = "the password is set; every session was revoked"), Problems))]
async fn reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let (body, reply) = match state
        .rates
        .mail
        .check(client)
        .map_err(AppError::from)
        .and_then(|()| params::<ResetBody>(&headers, &body))
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let outcome = email::reset_password(
        &*state.store,
        &state.accounts,
        &state.sessions,
        body.token.expose(),
        &body.password,
        &ctx,
        now,
    )
    .await;
    state.outbox.wake();
    answer(
        &state,
        reply,
        outcome.map_err(AppError::from),
        StatusCode::NO_CONTENT,
        "Password changed",
        "Your new password is set, and every session was signed out. Sign in with the new password.",
    )
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
struct ChangePasswordBody {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

#[utoipa::path(post, path = "/auth/password/change", tag = "email",
    request_body = ChangePasswordBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "changed; the other sessions were revoked"), Problems))]
async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    auth: Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    state.rates.mail.check(client)?;
    let body: ChangePasswordBody = extract::json(&headers, &body)?;
    email::change_password(
        &*state.store,
        &state.accounts,
        &state.sessions,
        &auth.user,
        &auth.claims.sid,
        &body.current_password,
        &body.new_password,
        client,
        &ctx,
        auth.now,
    )
    .await?;
    state.outbox.wake();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Spends a magic link: a token pair (and, from an allowed origin, the
/// cookies); from the link's page, the cookies and a page. A form from an
/// origin that is not allowed is refused before the link is spent.
#[utoipa::path(post, path = "/auth/magic-link/verify", tag = "email",
    request_body(content(
        (TokenBody = "application/json"),
        (TokenBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 200, description = "a token pair, amr [\"email\"]", body = super::auth::TokenBody), Problems))]
async fn magic_link_verify(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.now();
    let (body, reply) = match params::<TokenBody>(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if reply == Reply::Page
        && let Err(e) = extract::check_origin(&state, &headers)
    {
        return failure(&state, reply, e);
    }
    let signed_in = email::magic_sign_in(
        &*state.store,
        &state.sessions,
        body.token.expose(),
        extract::user_agent(&headers),
        &ctx,
        now,
    )
    .await;
    match (signed_in, reply) {
        (Ok(pair), Reply::Json) => token_response(&state, &headers, &pair, now),
        (Ok(pair), Reply::Page) => {
            let mut response = result(&state, StatusCode::OK, "Signed in", "You are signed in.");
            cookies::set_pair(
                response.headers_mut(),
                &state,
                &pair.access_token,
                &pair.granted.refresh_token.encode(),
                pair.granted.expires_at.saturating_sub(now),
            );
            response
        }
        (Err(e), reply) => failure(&state, reply, e.into()),
    }
}

/// An email change.
#[derive(Debug, Deserialize, ToSchema)]
struct EmailChangeBody {
    new_email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(post, path = "/auth/email/change", tag = "email",
    request_body = EmailChangeBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, description = "a confirmation link to the new address is queued"), Problems))]
async fn email_change(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    auth: Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    state.rates.mail.check(client)?;
    let body: EmailChangeBody = extract::json(&headers, &body)?;
    email::request_email_change(
        &*state.store,
        &state.accounts,
        &auth.user,
        &body.new_email,
        &body.password,
        client,
        &ctx,
        auth.now,
    )
    .await?;
    state.outbox.wake();
    Ok(StatusCode::ACCEPTED.into_response())
}

#[utoipa::path(post, path = "/auth/email/change/confirm", tag = "email",
    request_body(content(
        (TokenBody = "application/json"),
        (TokenBody = "application/x-www-form-urlencoded"),
    )),
    responses((status = 204, description = "the account has the new address"), Problems))]
async fn email_change_confirm(
    State(state): State<AppState>,
    Audit(ctx): Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    confirm(&state, &ctx, &headers, &body, Confirm::EmailChange).await
}

/// An account deletion.
#[derive(Debug, Deserialize, ToSchema)]
struct DeleteBody {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(delete, path = "/auth/me", tag = "email",
    request_body = DeleteBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "the account and its sessions are gone"), Problems))]
async fn delete_me(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Audit(ctx): Audit,
    auth: Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body: DeleteBody = extract::json(&headers, &body)?;
    email::delete_account(
        &*state.store,
        &state.accounts,
        &state.sessions,
        &auth.user,
        &body.password,
        client,
        &ctx,
        auth.now,
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    cookies::clear(response.headers_mut(), &state);
    Ok(response)
}
