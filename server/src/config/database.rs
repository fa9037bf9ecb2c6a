//! The database: which one, how many connections, how durable.

use core::fmt;

use super::{ConfigError, Mode, raw::Raw};

/// Where the data lives.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `EDGEAUTH_DATABASE_URL`, default `sqlite://edgeauth.db`;
    /// `postgres://...` or `postgresql://...` for PostgreSQL. Its `Debug`
    /// hides a password.
    pub url: DatabaseUrl,
    /// `EDGEAUTH_DATABASE_POOL_SIZE`: PostgreSQL connections per server
    /// instance, default 10, 1..=1000 (SQLite sizes its own pools).
    pub pool_size: u32,
    /// `EDGEAUTH_SQLITE_SYNCHRONOUS`: normal (default) or full.
    pub sqlite_synchronous: Synchronous,
}

impl DatabaseSettings {
    pub(super) fn read(raw: &mut Raw, mode: Mode) -> Result<Self, ConfigError> {
        let url = raw.parse(
            "DATABASE_URL",
            DatabaseUrl("sqlite://edgeauth.db".to_owned()),
            DatabaseUrl::parse,
        )?;
        if mode == Mode::Production && url.is_remote_without_tls() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "names a PostgreSQL server beyond this machine without TLS: add \
                 sslmode=require (or verify-full) in production mode",
            ));
        }
        Ok(Self {
            url,
            pool_size: raw.number("DATABASE_POOL_SIZE", 10, 1..=1000)?,
            sqlite_synchronous: raw.parse(
                "SQLITE_SYNCHRONOUS",
                Synchronous::Normal,
                |v| match v.to_ascii_lowercase().as_str() {
                    "normal" => Ok(Synchronous::Normal),
                    "full" => Ok(Synchronous::Full),
                    _ => Err(format!("must be normal or full, got \"{v}\"")),
                },
            )?,
        })
    }
}

/// `synchronous` for SQLite in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Survives a process crash (kill -9); the last commits may be lost on
    /// power failure.
    Normal,
    /// Also survives power failure, at an fsync per commit.
    Full,
}

/// Which storage backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH` (or `sqlite:PATH`): the embedded default.
    Sqlite,
    /// `postgres://...` or `postgresql://...`: several instances, one database.
    Postgres,
}

/// `DATABASE_URL`. Its `Debug` and `Display` hide a password, so it can
/// appear in logs and error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks the scheme (and, for PostgreSQL, that the URL parses).
    fn parse(v: &str) -> Result<Self, String> {
        let url = Self(v.to_owned());
        let lower = v.to_ascii_lowercase();
        if lower.starts_with("sqlite:") {
            return Ok(url);
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return match <sqlx::postgres::PgConnectOptions as core::str::FromStr>::from_str(v) {
                Ok(_) => Ok(url),
                Err(e) => Err(format!("is not a valid PostgreSQL URL ({e}): {url}")),
            };
        }
        Err(format!(
            "must be sqlite://PATH or postgres://USER@HOST/DATABASE, got \"{url}\""
        ))
    }

    /// The URL itself, password included: only for connecting.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A PostgreSQL server beyond loopback (or a Unix socket) reached
    /// without requiring TLS (`sslmode` disable, allow or prefer).
    fn is_remote_without_tls(&self) -> bool {
        use sqlx::postgres::{PgConnectOptions, PgSslMode};
        if self.backend() != Backend::Postgres {
            return false;
        }
        let Ok(options) = <PgConnectOptions as core::str::FromStr>::from_str(&self.0) else {
            return false;
        };
        let host = options.get_host();
        let local = host.starts_with('/')
            || host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<core::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        !local
            && matches!(
                options.get_ssl_mode(),
                PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer
            )
    }

    /// The backend it names.
    pub fn backend(&self) -> Backend {
        if self.0.to_ascii_lowercase().starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL with any password (`user:PASSWORD@`, `password=...`) masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_masked(f, &self.0)
    }
}

/// Writes a URL with any password (`user:PASSWORD@`, `password=...`)
/// masked (the database's and the mail server's URLs).
pub(super) fn write_masked(f: &mut fmt::Formatter<'_>, url: &str) -> fmt::Result {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    let masked = if userinfo.contains(':') { ":***" } else { "" };
                    write!(f, "{scheme}://{user}{masked}@{host}{path}")?;
                }
                None => f.write_str(head)?,
            }
        }
        None => f.write_str(head)?,
    }
    if !query.is_empty() {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        write!(f, "?{}", params.join("&"))?;
    }
    Ok(())
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}
