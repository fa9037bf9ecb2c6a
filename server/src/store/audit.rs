//! The audit log: the [`AuditEvent`] row and the [`AuditStore`] calls on it.
//! Events are appended in the transaction of the action they record (the
//! store methods that act take the event); the calls here read, append a
//! standalone event (a failed login changes nothing else) and purge.

use async_trait::async_trait;

use super::StoreError;

/// One audit event, as stored. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Public id (UUID).
    pub id: String,
    /// Seconds since the epoch.
    pub at: u64,
    /// One of the closed list of event types (`user.created`, ...).
    pub kind: String,
    /// A user id, `cli` or `system`.
    pub actor: String,
    /// The user id, role name or kid acted on.
    pub target: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's User-Agent.
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// A JSON object.
    pub detail: String,
}

/// A stored event with its position in the log (the cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Position: increasing in insertion order.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
}

/// Which events to read, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this type.
    pub kind: Option<String>,
    /// Only events whose actor or target is this.
    pub user: Option<String>,
    /// Only events at or after this time.
    pub since: Option<u64>,
    /// Only events after this position.
    pub after: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an event that records no other write (a failed login).
    async fn append_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Events matching `query`, oldest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<LoggedEvent>, StoreError>;
    /// Deletes events older than `before`; returns how many went.
    async fn purge_audit(&self, before: u64) -> Result<u64, StoreError>;
}
