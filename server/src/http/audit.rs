//! The audit side of requests: [`Audit`], the context (client address,
//! User-Agent, request id) every audited action records, and
//! `GET /admin/v1/audit`.

use axum::{
    Json,
    extract::{FromRequestParts, Query, State},
    http::request::Parts,
};
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    account::rfc3339,
    admin::{Admin, AuditRead, Problems},
    client::ClientAddr,
    extract::user_agent,
    observe::RequestId,
};
use crate::{
    auth::{
        admin::{self, AuditFilter},
        audit::AuditContext,
    },
    error::AppError,
    state::AppState,
    store::LoggedEvent,
};

/// Who acts and from where, for the audit events of a request: the actor
/// is filled in by the handler (the caller's user id) or by the action
/// (a login's user).
#[derive(Debug, Clone)]
pub(crate) struct Audit(pub(crate) AuditContext);

impl FromRequestParts<AppState> for Audit {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ClientAddr(ip) = ClientAddr::from_request_parts(parts, state).await?;
        Ok(Self(AuditContext {
            actor: String::new(),
            ip: Some(ip.to_string()),
            user_agent: user_agent(&parts.headers),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
        }))
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// The audit log's filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Only events whose actor or target is this user id (or role name,
    /// kid, `cli`, `system`).
    user: Option<String>,
    /// Only events at or after this time (RFC 3339, inclusive).
    since: Option<String>,
    /// A `next_cursor` of an earlier page.
    cursor: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    id: String,
    /// RFC 3339.
    at: String,
    /// One of the event types.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    kind: String,
    /// A user id, `cli` or `system`.
    actor: String,
    /// The user id, role name or kid acted on.
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    /// An object; never a secret.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

impl From<LoggedEvent> for EventView {
    fn from(logged: LoggedEvent) -> Self {
        let e = logged.event;
        Self {
            detail: serde_json::from_str(&e.detail).unwrap_or_default(),
            id: e.id,
            at: rfc3339(e.at),
            kind: e.kind,
            actor: e.actor,
            target: e.target,
            ip: e.ip,
            user_agent: e.user_agent,
            request_id: e.request_id,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventList {
    events: Vec<EventView>,
    /// The cursor after the last event of this page (null when it is
    /// empty): pass it to read on, now or later.
    next_cursor: Option<String>,
}

/// Audit events, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/audit",
    tag = "admin",
    params(AuditParams),
    security(("bearer" = ["admin.audit.read"]), ("cookie" = ["admin.audit.read"])),
    responses(
        (status = 200, description = "a page of events", body = EventList),
        Problems,
    )
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    _: Admin<AuditRead>,
    Query(params): Query<AuditParams>,
) -> Result<Json<EventList>, AppError> {
    let since = params
        .since
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .ok()
                .and_then(|d| u64::try_from(d.timestamp()).ok())
                .ok_or_else(|| AppError::bad_request("since must be an RFC 3339 time"))
        })
        .transpose()?;
    let limit = admin::limit(params.limit.as_deref())?;
    let page = admin::audit_events(
        &*state.store,
        &state.cursors,
        AuditFilter {
            kind: params.kind,
            user: params.user,
            since,
        },
        params.cursor.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(EventList {
        events: page.items.into_iter().map(EventView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
