//! Slow clients and connection counts: how long a client may take to send
//! a request, how long a request may run, how long a kept-alive connection
//! may wait, and how many connections are served at once.

use super::{ConfigError, raw::Raw};

/// Deadlines and the connection cap of the public listener (and of the
/// metrics listener, which is served the same way). Times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `EDGEAUTH_HEADER_TIMEOUT`: time to receive a request's headers,
    /// from the connection's start or the request's first byte; default 10 s.
    /// Then the connection is closed.
    pub header_timeout_ms: u64,
    /// `EDGEAUTH_BODY_TIMEOUT`: time to receive a request's whole body once
    /// its headers are in; default 10 s. Then 408 `request_timeout`.
    pub body_timeout_ms: u64,
    /// `EDGEAUTH_REQUEST_TIMEOUT`: time from a request's headers to its
    /// answer, body included; default 30 s. Then 503 `server_busy`.
    pub request_timeout_ms: u64,
    /// `EDGEAUTH_IDLE_TIMEOUT`: how long a connection may sit idle, neither
    /// sending a request nor taking its answer; default 60 s. Then it is
    /// closed.
    pub idle_timeout_ms: u64,
    /// `EDGEAUTH_MAX_CONNECTIONS`: connections served at once, default
    /// 1024, 1..=1000000 (lowered at start to leave descriptors free under
    /// the process's open-file limit). A connection past the cap is closed
    /// at once.
    pub max_connections: usize,
}

impl ConnectionSettings {
    pub(super) fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        Ok(Self {
            header_timeout_ms: positive(raw, "HEADER_TIMEOUT", 10_000)?,
            body_timeout_ms: positive(raw, "BODY_TIMEOUT", 10_000)?,
            request_timeout_ms: positive(raw, "REQUEST_TIMEOUT", 30_000)?,
            idle_timeout_ms: positive(raw, "IDLE_TIMEOUT", 60_000)?,
            max_connections: raw.number("MAX_CONNECTIONS", 1024, 1..=1_000_000)?,
        })
    }
}

/// A duration that must not be zero (a zero deadline would refuse every
/// request).
fn positive(raw: &mut Raw, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match raw.duration_ms(name, default)? {
        0 => Err(ConfigError::new(name, "must be more than 0")),
        ms => Ok(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionSettings;
    use crate::config::tests::load;

    #[test]
    fn deadlines_take_durations_and_refuse_zero() {
        assert_eq!(
            load(&[]).unwrap().connections,
            ConnectionSettings {
                header_timeout_ms: 10_000,
                body_timeout_ms: 10_000,
                request_timeout_ms: 30_000,
                idle_timeout_ms: 60_000,
                max_connections: 1024,
            }
        );
        let c = load(&[
            ("HEADER_TIMEOUT", "500ms"),
            ("IDLE_TIMEOUT", "2m"),
            ("MAX_CONNECTIONS", "10"),
        ])
        .unwrap();
        assert_eq!(
            (
                c.connections.header_timeout_ms,
                c.connections.idle_timeout_ms
            ),
            (500, 120_000)
        );
        assert_eq!(c.connections.max_connections, 10);
        for (name, bad) in [
            ("HEADER_TIMEOUT", "0"),
            ("BODY_TIMEOUT", "soon"),
            ("REQUEST_TIMEOUT", "0ms"),
            ("MAX_CONNECTIONS", "0"),
        ] {
            let e = load(&[(name, bad)]).unwrap_err();
            assert_eq!(e.setting, format!("EDGEAUTH_{name}"));
        }
    }
}
