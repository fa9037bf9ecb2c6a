//! The audit log: how long its events are kept.

use super::{ConfigError, raw::Raw};

/// The audit log's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditSettings {
    /// `EDGEAUTH_AUDIT_RETENTION`: events older than this are deleted
    /// (every hour, by `serve`), default 90d, at least 1d.
    pub retention: u64,
}

impl AuditSettings {
    pub(super) fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        let retention = raw.duration_secs("AUDIT_RETENTION", 90 * 86_400)?;
        if retention < 86_400 {
            return Err(ConfigError::new(
                "AUDIT_RETENTION",
                format!("must be at least 1d, got {retention}s"),
            ));
        }
        Ok(Self { retention })
    }
}
