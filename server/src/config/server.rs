//! Settings every mode shares: where to listen, who this issuer is, how
//! large a request may be, how much to log.

use std::net::SocketAddr;

use super::{ConfigError, Mode, raw::Raw, raw::origin_of};

/// Where the server listens and how it names itself.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `EDGEAUTH_BIND`: the listening address, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `EDGEAUTH_ISSUER`: the http(s) URL clients reach this server at,
    /// without a trailing `/`; default `http://<BIND>`. Required, and https,
    /// in production.
    pub issuer: String,
    /// `EDGEAUTH_AUDIENCE`: the tokens' `aud`, default `edgeauth`.
    pub audience: String,
    /// `EDGEAUTH_BODY_LIMIT`: largest request body in bytes, default 16384,
    /// 1024..=1048576.
    pub body_limit: usize,
    /// `EDGEAUTH_LOG`: error, warn, info (default), debug or trace.
    pub log: String,
}

/// Listening beyond loopback takes a deliberate mode: never test mode
/// (its password hashing is weak), and not the default development mode
/// unless `EDGEAUTH_MODE` says so.
fn check_exposure(bind: SocketAddr, mode: Mode, explicit: bool) -> Result<(), ConfigError> {
    if bind.ip().is_loopback() {
        return Ok(());
    }
    if mode == Mode::Test {
        return Err(ConfigError::new(
            "BIND",
            format!(
                "must be a loopback address in test mode (its password hashing is weak), got {bind}"
            ),
        ));
    }
    if !explicit {
        return Err(ConfigError::new(
            "BIND",
            format!(
                "{bind} is not a loopback address: set EDGEAUTH_MODE=production (or =development, \
                 deliberately) to listen on it"
            ),
        ));
    }
    Ok(())
}

impl ServerSettings {
    /// `explicit`: whether `EDGEAUTH_MODE` was given, rather than defaulted.
    pub(super) fn read(raw: &mut Raw, mode: Mode, explicit: bool) -> Result<Self, ConfigError> {
        let production = mode == Mode::Production;
        let bind = raw.parse("BIND", SocketAddr::from(([127, 0, 0, 1], 8080)), |v| {
            v.parse()
                .map_err(|_| format!("must be an address like 127.0.0.1:8080, got \"{v}\""))
        })?;
        check_exposure(bind, mode, explicit)?;
        let issuer = match raw.parse_opt("ISSUER", |v| Ok(v.trim_end_matches('/').to_owned()))? {
            Some(v) => {
                if origin_of(&v).is_none() {
                    return Err(ConfigError::new(
                        "ISSUER",
                        format!("must be an http(s) URL, got \"{v}\""),
                    ));
                }
                if production && !v.starts_with("https://") {
                    return Err(ConfigError::new(
                        "ISSUER",
                        "must be an https URL in production mode",
                    ));
                }
                v
            }
            None if production => {
                return Err(ConfigError::new(
                    "ISSUER",
                    "must be set in production mode (the https URL clients reach this server at)",
                ));
            }
            None => format!("http://{bind}"),
        };
        Ok(Self {
            bind,
            issuer,
            audience: raw.string("AUDIENCE", "edgeauth")?,
            body_limit: raw.number("BODY_LIMIT", 16 * 1024, 1024..=1024 * 1024)?,
            log: raw.parse("LOG", "info".to_owned(), |v| {
                let v = v.to_ascii_lowercase();
                if ["error", "warn", "info", "debug", "trace"].contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(format!(
                        "must be error, warn, info, debug or trace, got \"{v}\""
                    ))
                }
            })?,
        })
    }
}
