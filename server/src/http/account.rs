//! `/auth/me` and `/auth/sessions`.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get},
};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use super::extract::Authenticated;
use crate::{error::AppError, state::AppState, store::User};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/me", get(me))
        .route("/auth/sessions", get(sessions))
        .route("/auth/sessions/{id}", delete(delete_session))
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
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
struct Me {
    #[serde(flatten)]
    user: UserView,
    email_verified: bool,
}

/// The current user. Roles and permissions are those of the access token,
/// i.e. what the token may do at the gate right now.
async fn me(State(state): State<AppState>, auth: Authenticated) -> Result<Json<Me>, AppError> {
    let email_verified = state.accounts.email_verified(&auth.user.id).await?;
    Ok(Json(Me {
        user: UserView::new(&auth.user, auth.claims.roles, auth.claims.perms),
        email_verified,
    }))
}

#[derive(Debug, Serialize)]
struct SessionView {
    id: String,
    created_at: String,
    last_used_at: String,
    expires_at: String,
    user_agent: Option<String>,
    current: bool,
}

#[derive(Debug, Serialize)]
struct SessionList {
    sessions: Vec<SessionView>,
}

async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SessionList>, AppError> {
    let sessions = state
        .sessions
        .list(&auth.claims.sub, auth.now)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id == auth.claims.sid,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent,
            id: s.id,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

async fn delete_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state
        .sessions
        .revoke_own(&id, &auth.claims.sub, auth.now)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
