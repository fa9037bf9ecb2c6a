//! Browser-facing settings: the cookies and the origins allowed to use them.

use super::{ConfigError, Mode, raw::Raw, raw::origin_of};

/// The session cookies and the origins that may send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `EDGEAUTH_COOKIE_SECURE`: mark cookies `Secure`, default true; must
    /// not be false in production.
    pub secure: bool,
    /// `EDGEAUTH_ALLOWED_ORIGINS`: comma-separated origins (a TOML array
    /// also works) that may call `/auth/*` with cookies; default the
    /// issuer's origin.
    pub allowed_origins: Vec<String>,
    /// `EDGEAUTH_ACCESS_COOKIE`: the access token's cookie, default
    /// `edgeauth_session`.
    pub access_name: String,
    /// `EDGEAUTH_REFRESH_COOKIE`: the refresh token's cookie, default
    /// `edgeauth_refresh`.
    pub refresh_name: String,
}

impl CookieSettings {
    pub(super) fn read(raw: &mut Raw, mode: Mode, issuer: &str) -> Result<Self, ConfigError> {
        let secure = raw.bool("COOKIE_SECURE", true)?;
        if mode == Mode::Production && !secure {
            return Err(ConfigError::new(
                "COOKIE_SECURE",
                "must not be false in production mode",
            ));
        }
        let allowed_origins = raw
            .parse_opt("ALLOWED_ORIGINS", origins)?
            .unwrap_or_else(|| origin_of(issuer).into_iter().collect());
        let plain = allowed_origins.iter().find(|o| o.starts_with("http://"));
        if let (Mode::Production, Some(plain)) = (mode, plain) {
            return Err(ConfigError::new(
                "ALLOWED_ORIGINS",
                format!("must hold only https origins in production mode, got \"{plain}\""),
            ));
        }
        let access_name = raw.parse("ACCESS_COOKIE", "edgeauth_session".into(), cookie_name)?;
        check_prefix("ACCESS_COOKIE", &access_name, secure, true)?;
        let refresh_name = raw.parse("REFRESH_COOKIE", "edgeauth_refresh".into(), cookie_name)?;
        check_prefix("REFRESH_COOKIE", &refresh_name, secure, false)?;
        Ok(Self {
            secure,
            allowed_origins,
            access_name,
            refresh_name,
        })
    }
}

/// The browser's cookie prefixes (RFC 6265bis): `__Secure-` needs
/// `Secure`; `__Host-` also needs `Path=/`, which only the access cookie
/// has (the refresh cookie is scoped to `/auth`).
fn check_prefix(
    setting: &str,
    name: &str,
    secure: bool,
    path_is_root: bool,
) -> Result<(), ConfigError> {
    let lower = name.to_ascii_lowercase();
    let host = lower.starts_with("__host-");
    if (host || lower.starts_with("__secure-")) && !secure {
        return Err(ConfigError::new(
            setting,
            format!("\"{name}\" has a prefix that needs EDGEAUTH_COOKIE_SECURE=true"),
        ));
    }
    if host && !path_is_root {
        return Err(ConfigError::new(
            setting,
            format!(
                "\"{name}\": __Host- needs Path=/, and this cookie has Path=/auth; use __Secure-"
            ),
        ));
    }
    Ok(())
}

/// The core's reading of an origin list (the gate's too).
fn origins(v: &str) -> Result<Vec<String>, String> {
    edgeauth_core::parse_origins(v).ok_or_else(|| {
        format!("must be comma-separated origins like https://app.example, got \"{v}\"")
    })
}

fn cookie_name(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "must be a cookie name of letters, digits, '_', '-' or '.', got \"{v}\""
        ))
    }
}
