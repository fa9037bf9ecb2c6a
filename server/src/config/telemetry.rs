//! What the server tells its operator: the metrics listener and the log
//! format.

use std::net::SocketAddr;

use super::{ConfigError, raw::Raw};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object a line.
    Json,
}

/// The metrics listener and the log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// `EDGEAUTH_METRICS_BIND`: the address of a separate listener serving
    /// Prometheus text at `/metrics`; default none (no metrics). Never the
    /// public `EDGEAUTH_BIND`.
    pub metrics_bind: Option<SocketAddr>,
    /// `EDGEAUTH_LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
}

impl TelemetrySettings {
    pub(super) fn read(raw: &mut Raw, bind: SocketAddr) -> Result<Self, ConfigError> {
        let metrics_bind = raw.parse_opt("METRICS_BIND", |v| {
            let addr: SocketAddr = v
                .parse()
                .map_err(|_| format!("must be an address like 127.0.0.1:9090, got \"{v}\""))?;
            if shares_port(addr, bind) {
                return Err(format!(
                    "must not be the public listener's address (EDGEAUTH_BIND is {bind})"
                ));
            }
            Ok(addr)
        })?;
        let log_format = raw.parse("LOG_FORMAT", LogFormat::Text, |v| {
            match v.to_ascii_lowercase().as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("must be text or json, got \"{v}\"")),
            }
        })?;
        Ok(Self {
            metrics_bind,
            log_format,
        })
    }
}

/// Whether two listening addresses would be the same port: the same fixed
/// port on the same address, or on any address when either is unspecified
/// (`0.0.0.0`, `[::]`). Port 0 picks a free port, so never clashes.
fn shares_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::{LogFormat, shares_port};
    use crate::config::tests::load;

    #[test]
    fn metrics_are_off_by_default_and_never_on_the_public_port() {
        let c = load(&[]).unwrap();
        assert_eq!(c.telemetry.metrics_bind, None);
        assert_eq!(c.telemetry.log_format, LogFormat::Text);
        let c = load(&[("METRICS_BIND", "127.0.0.1:9090"), ("LOG_FORMAT", "JSON")]).unwrap();
        assert_eq!(
            c.telemetry.metrics_bind,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert_eq!(c.telemetry.log_format, LogFormat::Json);
        for (bind, metrics) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("0.0.0.0:9000", "127.0.0.1:9000"),
        ] {
            let e = load(&[
                ("MODE", "development"),
                ("BIND", bind),
                ("METRICS_BIND", metrics),
            ])
            .unwrap_err();
            assert_eq!(e.setting, "EDGEAUTH_METRICS_BIND");
        }
        // The default BIND too.
        let e = load(&[("METRICS_BIND", "127.0.0.1:8080")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_METRICS_BIND");
        let e = load(&[("LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_LOG_FORMAT");
    }

    #[test]
    fn the_metrics_listener_never_shares_the_public_port() {
        let at = |s: &str| s.parse().unwrap();
        assert!(shares_port(at("127.0.0.1:8080"), at("127.0.0.1:8080")));
        assert!(shares_port(at("0.0.0.0:8080"), at("127.0.0.1:8080")));
        assert!(shares_port(at("127.0.0.1:8080"), at("[::]:8080")));
        assert!(!shares_port(at("127.0.0.1:9090"), at("127.0.0.1:8080")));
        assert!(!shares_port(at("127.0.0.2:8080"), at("127.0.0.1:8080")));
        assert!(!shares_port(at("127.0.0.1:0"), at("127.0.0.1:0")));
    }
}
