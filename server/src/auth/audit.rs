//! The audit log's vocabulary: the closed list of event types, who acted
//! and from where ([`AuditContext`]), building an event, the JSON log line
//! each event also becomes (tracing target `audit`), and retention.
//!
//! An event never carries a secret: `detail` holds names, ids, flags and
//! reasons only, never a password, token or hash.

use serde_json::{Value, json};

use super::AuthError;
use crate::{
    secret::random,
    store::{AuditEvent, Store, StoreError},
};

/// Every audit event type (docs/admin-api.md lists them; later features
/// add theirs here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum EventType {
    UserRegistered,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    SessionRevoked,
    RefreshReused,
    PasswordChanged,
    PasswordReset,
    EmailVerified,
    EmailChanged,
    RolesChanged,
    RoleDefined,
    RoleDeleted,
    KeyRotated,
}

impl EventType {
    /// Every type, in the documented order.
    pub(crate) const ALL: [Self; 19] = [
        Self::UserRegistered,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserDeleted,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::SessionRevoked,
        Self::RefreshReused,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailVerified,
        Self::EmailChanged,
        Self::RolesChanged,
        Self::RoleDefined,
        Self::RoleDeleted,
        Self::KeyRotated,
    ];

    /// The stable name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserDeleted => "user.deleted",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginThrottled => "login.throttled",
            Self::SessionRevoked => "session.revoked",
            Self::RefreshReused => "refresh.reused",
            Self::PasswordChanged => "password.changed",
            Self::PasswordReset => "password.reset",
            Self::EmailVerified => "email.verified",
            Self::EmailChanged => "email.changed",
            Self::RolesChanged => "roles.changed",
            Self::RoleDefined => "role.defined",
            Self::RoleDeleted => "role.deleted",
            Self::KeyRotated => "key.rotated",
        }
    }

    /// The type with this name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The actor of the command line.
pub(crate) const ACTOR_CLI: &str = "cli";
/// The actor of a failed or throttled login for an email that is no
/// account (and of a throttled one: it is refused before any lookup).
pub(crate) const ACTOR_ANONYMOUS: &str = "anonymous";
/// The actor of the server's own schedules.
pub(crate) const ACTOR_SYSTEM: &str = "system";

/// Who acts, and from where: the actor (a user id, `cli` or `system`), and
/// for HTTP requests the client's address, User-Agent and request id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuditContext {
    pub(crate) actor: String,
    pub(crate) ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) request_id: Option<String>,
}

impl AuditContext {
    /// The command line.
    pub(crate) fn cli() -> Self {
        Self {
            actor: ACTOR_CLI.to_owned(),
            ..Self::default()
        }
    }

    /// The server itself (schedules).
    pub(crate) fn system() -> Self {
        Self {
            actor: ACTOR_SYSTEM.to_owned(),
            ..Self::default()
        }
    }

    /// This actor, with the request's address, user agent and id from
    /// `request` (the server acting on a client's request).
    pub(crate) fn with_request_of(self, request: &Self) -> Self {
        Self {
            ip: request.ip.clone(),
            user_agent: request.user_agent.clone(),
            request_id: request.request_id.clone(),
            ..self
        }
    }

    /// The same request, acted by `actor` (a login's user, once known).
    pub(crate) fn acted_by(&self, actor: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            ..self.clone()
        }
    }

    /// A new event of this context.
    pub(crate) fn event(
        &self,
        kind: EventType,
        target: Option<&str>,
        detail: Value,
        now: u64,
    ) -> Result<AuditEvent, AuthError> {
        let detail = if detail.is_object() {
            detail
        } else {
            json!({})
        };
        Ok(AuditEvent {
            id: uuid::Builder::from_random_bytes(random()?)
                .into_uuid()
                .to_string(),
            at: now,
            kind: kind.as_str().to_owned(),
            actor: self.actor.clone(),
            target: target.map(str::to_owned),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            detail: detail.to_string(),
        })
    }
}

/// Logs a committed event as a log line (target `audit`; a JSON line with
/// `LOG_FORMAT=json`), for shipping to a SIEM.
pub(crate) fn log(event: &AuditEvent) {
    tracing::info!(
        target: "audit",
        audit_id = %event.id,
        at = event.at,
        event_type = %event.kind,
        actor = %event.actor,
        audit_target = event.target.as_deref().unwrap_or_default(),
        ip = event.ip.as_deref().unwrap_or_default(),
        user_agent = event.user_agent.as_deref().unwrap_or_default(),
        request_id = event.request_id.as_deref().unwrap_or_default(),
        detail = %event.detail,
        "audit"
    );
}

/// Appends an event that records nothing else (a failed or throttled
/// login), then logs it.
pub(crate) async fn append(store: &dyn Store, event: &AuditEvent) -> Result<(), StoreError> {
    store.append_event(event).await?;
    log(event);
    Ok(())
}

/// Deletes the events older than `retention` seconds (the server does this
/// every hour); returns how many went.
pub(crate) async fn purge(store: &dyn Store, now: u64, retention: u64) -> Result<u64, StoreError> {
    store.purge_audit(now.saturating_sub(retention)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_types_are_the_documented_closed_list() {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "user.registered",
                "user.created",
                "user.updated",
                "user.disabled",
                "user.enabled",
                "user.deleted",
                "login.succeeded",
                "login.failed",
                "login.throttled",
                "session.revoked",
                "refresh.reused",
                "password.changed",
                "password.reset",
                "email.verified",
                "email.changed",
                "roles.changed",
                "role.defined",
                "role.deleted",
                "key.rotated",
            ]
        );
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("user.hacked"), None);
    }
}
