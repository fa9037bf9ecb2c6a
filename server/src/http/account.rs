//! `/auth/me` and `/auth/sessions`.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{admin::Problems, audit::Audit, extract::Authenticated};
use crate::{
    error::AppError,
    state::AppState,
    store::{Session, User},
};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(sessions))
        .routes(routes!(delete_session))
}

/// RFC 3339, UTC, whole seconds.
pub(crate) fn rfc3339(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A user as the API shows it.
/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    id: String,
    email: String,
    name: Option<String>,
    roles: Vec<String>,
    perms: Vec<String>,
    created_at: String,
}

impl UserView {
    pub(crate) fn new(user: &User, roles: Vec<String>, perms: Vec<String>) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            roles,
            perms,
            created_at: rfc3339(user.created_at),
        }
    }
}

/// `/auth/me`: the user, and whether its address is verified.
#[derive(Debug, Serialize, ToSchema)]
struct Me {
    #[serde(flatten)]
    user: UserView,
    email_verified: bool,
}

/// The current user. Roles and permissions are those of the access token,
/// i.e. what the token may do at the gate right now.
#[utoipa::path(get, path = "/auth/me", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the current user", body = Me), Problems))]
async fn me(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Me>, AppError> {
    let email_verified = state.accounts.email_verified(&auth.user.id).await?;
    Ok(Json(Me {
        user: UserView::new(&auth.user, auth.claims.roles, auth.claims.perms),
        email_verified,
    }))
}

/// A session (one device sign-in).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    id: String,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<String>,
    /// Whether it is the session of the token that asks.
    current: bool,
}

impl SessionView {
    pub(crate) fn new(s: Session, current_sid: &str) -> Self {
        Self {
            current: s.id == current_sid,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent,
            id: s.id,
        }
    }
}

/// `{"sessions": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
}

/// Your live sessions, most recently used first.
#[utoipa::path(get, path = "/auth/sessions", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the sessions", body = SessionList), Problems))]
async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SessionList>, AppError> {
    let sessions = state
        .sessions
        .list(&auth.claims.sub, auth.now)
        .await?
        .into_iter()
        .map(|s| SessionView::new(s, &auth.claims.sid))
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Revokes one of your sessions.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "the session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "revoked"), Problems))]
async fn delete_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Audit(ctx): Audit,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let ctx = ctx.acted_by(&auth.claims.sub);
    state
        .sessions
        .revoke_own(&id, &auth.claims.sub, &ctx, auth.now)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
