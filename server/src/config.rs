//! Configuration: `EDGEAUTH_*` environment variables over an optional TOML
//! file (the same names, lowercase, without the prefix). Every problem names
//! the setting, and bad configuration stops the server before it starts.

use core::fmt;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use crate::secret::MasterKey;

/// Which safety checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The default: works with no configuration; a generated master key is
    /// kept in a local file, with a warning.
    Development,
    /// `EDGEAUTH_MODE=production`: secrets must be given and strong, the
    /// issuer must be https, cookies must be Secure.
    Production,
    /// `EDGEAUTH_MODE=test`: development plus argon2 costs below the floors,
    /// so test suites run fast. Never for real users.
    Test,
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Costs {
    /// Memory in KiB (`ARGON2_MEMORY_KIB`, default 19456 = 19 MiB).
    pub memory_kib: u32,
    /// Iterations (`ARGON2_ITERATIONS`, default 2).
    pub iterations: u32,
    /// Lanes (`ARGON2_PARALLELISM`, default 1).
    pub parallelism: u32,
}

impl Argon2Costs {
    /// OWASP's recommendation: 19 MiB, t=2, p=1.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The floor outside test mode, from OWASP's equivalent configurations
    /// (19 MiB t=2, 12 MiB t=3, 9 MiB t=4, 7 MiB t=5): memory >= 7 MiB and
    /// memory x iterations >= 7 MiB x 5. Returns the setting to raise.
    fn below_floor(self) -> Option<&'static str> {
        if self.memory_kib < 7 * 1024 {
            return Some("EDGEAUTH_ARGON2_MEMORY_KIB");
        }
        if u64::from(self.memory_kib) * u64::from(self.iterations) < 35 * 1024 {
            return Some("EDGEAUTH_ARGON2_ITERATIONS");
        }
        None
    }
}

/// Password rules (NIST SP 800-63B spirit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordRules {
    /// Minimum length in characters after NFKC (`PASSWORD_MIN_LENGTH`, >= 8).
    pub min_length: usize,
    /// Maximum length in characters (`PASSWORD_MAX_LENGTH`, 64..=1024, default 256).
    pub max_length: usize,
    /// Character classes required among lower, upper, digit, other
    /// (`PASSWORD_REQUIRE_CLASSES`, 0..=4, default 0 = off).
    pub require_classes: usize,
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

/// The server's settings. `Debug` never shows the master key.
#[derive(Debug, Clone)]
pub struct Config {
    /// `MODE`: development (default), production or test.
    pub mode: Mode,
    /// `DATABASE_URL`, default `sqlite://edgeauth.db`; `postgres://...` or
    /// `postgresql://...` for PostgreSQL. Its `Debug` hides a password.
    pub database_url: DatabaseUrl,
    /// `DATABASE_POOL_SIZE`: PostgreSQL connections per server instance,
    /// default 10 (SQLite sizes its own pools).
    pub database_pool_size: u32,
    /// `BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `ISSUER`, default `http://<BIND>` (required in production).
    pub issuer: String,
    /// `AUDIENCE`, default `edgeauth`.
    pub audience: String,
    /// `ACCESS_TTL` in seconds, default 900.
    pub access_ttl: u64,
    /// `REFRESH_TTL` (sliding) in seconds, default 14 days.
    pub refresh_ttl: u64,
    /// `SESSION_LIFETIME` (absolute) in seconds, default 90 days.
    pub session_lifetime: u64,
    /// `REFRESH_REUSE_GRACE` in seconds, default 10; 0 = strict.
    pub refresh_reuse_grace: u64,
    /// `MAX_SESSIONS` per user, default 10; the least recently used goes.
    pub max_sessions: u32,
    /// `MASTER_KEY`: 32 bytes, hex or base64. Required in production.
    pub master_key: Option<MasterKey>,
    /// `MASTER_KEY_FILE`: where development keeps a generated master key,
    /// default `edgeauth.master-key`.
    pub master_key_file: PathBuf,
    /// `COOKIE_SECURE`, default true.
    pub cookie_secure: bool,
    /// `ALLOWED_ORIGINS`, comma-separated; default the issuer's origin.
    pub allowed_origins: Vec<String>,
    /// `ACCESS_COOKIE`, default `edgeauth_session`.
    pub access_cookie: String,
    /// `REFRESH_COOKIE`, default `edgeauth_refresh`.
    pub refresh_cookie: String,
    /// `ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`.
    pub argon2: Argon2Costs,
    /// `HASH_CONCURRENCY`: argon2 hashes at once, default the core count.
    pub hash_concurrency: usize,
    /// `HASH_QUEUE`: requests that may wait for a hashing slot, default 8
    /// per slot; more are refused at once with 503 and Retry-After.
    pub hash_queue: usize,
    /// `HASH_WAIT`: longest wait for a hashing slot in milliseconds
    /// (default 500ms), then 503 with Retry-After.
    pub hash_wait_ms: u64,
    /// `PASSWORD_MIN_LENGTH`, `PASSWORD_MAX_LENGTH`, `PASSWORD_REQUIRE_CLASSES`.
    pub password: PasswordRules,
    /// `LOGIN_MAX_FAILURES` per email within `LOGIN_WINDOW`, default 20;
    /// then 429 `too_many_attempts` until the window ends.
    pub login_max_failures: u32,
    /// `LOGIN_WINDOW` in seconds, default 15 minutes.
    pub login_window: u64,
    /// `BODY_LIMIT` in bytes, default 16384.
    pub body_limit: usize,
    /// `JWKS_MAX_AGE` in seconds for Cache-Control, default 300.
    pub jwks_max_age: u64,
    /// `KEY_RELOAD` in seconds: how often a running server rereads the
    /// signing keys (to see `keys rotate`), default 30.
    pub key_reload: u64,
    /// `SESSION_CACHE` in seconds: how long this process may trust a
    /// session it found live. Its own revocations apply at once; another
    /// instance's only when the entry ages out. Default 30 on SQLite and 0
    /// (off) on PostgreSQL, where several instances share the database.
    pub session_cache: u64,
    /// `SQLITE_SYNCHRONOUS`: normal (default) or full.
    pub sqlite_synchronous: Synchronous,
    /// `LOG`: error, warn, info (default), debug or trace.
    pub log: String,
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
        let url = self.0.as_str();
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
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// A setting that could not be used. Its `Display` names the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable's name, e.g. `EDGEAUTH_ACCESS_TTL`.
    pub setting: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(setting: &str, reason: impl Into<String>) -> Self {
        let setting = if setting.starts_with(PREFIX) {
            setting.to_owned()
        } else {
            format!("{PREFIX}{setting}")
        };
        Self {
            setting,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration: {} {}", self.setting, self.reason)
    }
}

impl core::error::Error for ConfigError {}

const PREFIX: &str = "EDGEAUTH_";

/// Every setting's name without the prefix. `CONFIG` names the TOML file.
const KNOWN: &[&str] = &[
    "MODE",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "BIND",
    "ISSUER",
    "AUDIENCE",
    "ACCESS_TTL",
    "REFRESH_TTL",
    "SESSION_LIFETIME",
    "REFRESH_REUSE_GRACE",
    "MAX_SESSIONS",
    "MASTER_KEY",
    "MASTER_KEY_FILE",
    "COOKIE_SECURE",
    "ALLOWED_ORIGINS",
    "ACCESS_COOKIE",
    "REFRESH_COOKIE",
    "ARGON2_MEMORY_KIB",
    "ARGON2_ITERATIONS",
    "ARGON2_PARALLELISM",
    "HASH_CONCURRENCY",
    "HASH_QUEUE",
    "HASH_WAIT",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_REQUIRE_CLASSES",
    "LOGIN_MAX_FAILURES",
    "LOGIN_WINDOW",
    "BODY_LIMIT",
    "JWKS_MAX_AGE",
    "KEY_RELOAD",
    "SESSION_CACHE",
    "SQLITE_SYNCHRONOUS",
    "LOG",
];

/// Raw settings by name (without prefix), with where each came from.
struct Raw(BTreeMap<String, String>);

impl Raw {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(
        &self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse(v.trim()).map_err(|reason| ConfigError::new(name, reason)),
        }
    }

    fn duration_secs(&self, name: &str, default: u64) -> Result<u64, ConfigError> {
        self.parse(name, default, |v| {
            let ms = parse_duration_ms(v)?;
            if ms % 1000 != 0 {
                return Err(format!("must be whole seconds, got \"{v}\""));
            }
            Ok(ms / 1000)
        })
    }

    fn number<T>(
        &self,
        name: &str,
        default: T,
        range: core::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: core::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        self.parse(name, default, |v| {
            let n: T = v
                .parse()
                .map_err(|_| format!("must be a whole number, got \"{v}\""))?;
            if range.contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "must be between {} and {}, got {n}",
                    range.start(),
                    range.end()
                ))
            }
        })
    }
}

/// Parses `900`, `900s`, `500ms`, `15m`, `2h`, `14d` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let bad = || format!("must be a duration like 900, 15m or 14d, got \"{text}\"");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("must be true or false, got \"{v}\"")),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
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

impl Config {
    /// Reads the process environment, and the TOML file named by
    /// `--config` or `EDGEAUTH_CONFIG` if any. The environment wins.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        let file = file.map(Path::to_path_buf).or_else(|| {
            vars.iter()
                .find(|(k, _)| k == "EDGEAUTH_CONFIG")
                .map(|(_, v)| PathBuf::from(v))
        });
        let toml = match &file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new("CONFIG", format!("cannot read {}: {e}", path.display()))
            })?),
            None => None,
        };
        Self::from_sources(vars, toml.as_deref())
    }

    /// Builds a configuration from `EDGEAUTH_*` variables and an optional
    /// TOML document; variables win. Unknown variables are ignored (other
    /// components share the prefix); unknown TOML keys are errors.
    pub fn from_sources(
        vars: impl IntoIterator<Item = (String, String)>,
        toml: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut raw = BTreeMap::new();
        if let Some(text) = toml {
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| ConfigError::new("CONFIG", format!("is not valid TOML: {e}")))?;
            for (key, value) in table {
                let name = key.to_ascii_uppercase();
                if !KNOWN.contains(&name.as_str()) {
                    return Err(ConfigError::new(
                        "CONFIG",
                        format!("has an unknown setting \"{key}\""),
                    ));
                }
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| match v {
                            toml::Value::String(s) => Ok(s.clone()),
                            toml::Value::Integer(i) => Ok(i.to_string()),
                            _ => Err(ConfigError::new(&name, "has an unsupported list item")),
                        })
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    _ => {
                        return Err(ConfigError::new(&name, "has an unsupported TOML value"));
                    }
                };
                raw.insert(name, text);
            }
        }
        for (key, value) in vars {
            if let Some(name) = key.strip_prefix(PREFIX)
                && KNOWN.contains(&name)
            {
                raw.insert(name.to_owned(), value);
            }
        }
        Self::from_raw(&Raw(raw))
    }

    fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let mode = raw.parse("MODE", Mode::Development, |v| {
            match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Ok(Mode::Development),
                "production" | "prod" => Ok(Mode::Production),
                "test" => Ok(Mode::Test),
                _ => Err(format!(
                    "must be development, production or test, got \"{v}\""
                )),
            }
        })?;
        let production = mode == Mode::Production;
        let bind: SocketAddr =
            raw.parse("BIND", SocketAddr::from(([127, 0, 0, 1], 8080)), |v| {
                v.parse()
                    .map_err(|_| format!("must be an address like 127.0.0.1:8080, got \"{v}\""))
            })?;
        let issuer = match raw.get("ISSUER") {
            Some(v) => {
                let v = v.trim().trim_end_matches('/').to_owned();
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
        let audience = raw.parse("AUDIENCE", "edgeauth".to_owned(), |v| Ok(v.to_owned()))?;
        let access_ttl = raw.duration_secs("ACCESS_TTL", 900)?;
        if !(60..=86_400).contains(&access_ttl) {
            return Err(ConfigError::new(
                "ACCESS_TTL",
                format!("must be between 1m and 1d, got {access_ttl}s"),
            ));
        }
        let refresh_ttl = raw.duration_secs("REFRESH_TTL", 14 * 86_400)?;
        if refresh_ttl <= access_ttl {
            return Err(ConfigError::new(
                "REFRESH_TTL",
                "must be longer than EDGEAUTH_ACCESS_TTL",
            ));
        }
        let session_lifetime = raw.duration_secs("SESSION_LIFETIME", 90 * 86_400)?;
        if session_lifetime < refresh_ttl {
            return Err(ConfigError::new(
                "SESSION_LIFETIME",
                "must be at least EDGEAUTH_REFRESH_TTL",
            ));
        }
        let refresh_reuse_grace = raw.duration_secs("REFRESH_REUSE_GRACE", 10)?;
        if refresh_reuse_grace > 300 {
            return Err(ConfigError::new(
                "REFRESH_REUSE_GRACE",
                "must be at most 5m (0 = strict)",
            ));
        }
        let max_sessions = raw.number("MAX_SESSIONS", 10u32, 1..=1000)?;
        let master_key = match raw.get("MASTER_KEY") {
            Some(v) => Some(
                MasterKey::parse(v).map_err(|p| ConfigError::new("MASTER_KEY", p.to_string()))?,
            ),
            None if production => {
                return Err(ConfigError::new(
                    "MASTER_KEY",
                    "must be set in production mode (32 random bytes, hex or base64; `edgeauth keys generate-master-key` prints one)",
                ));
            }
            None => None,
        };
        let master_key_file = raw.parse(
            "MASTER_KEY_FILE",
            PathBuf::from("edgeauth.master-key"),
            |v| Ok(PathBuf::from(v)),
        )?;
        let cookie_secure = raw.parse("COOKIE_SECURE", true, parse_bool)?;
        if production && !cookie_secure {
            return Err(ConfigError::new(
                "COOKIE_SECURE",
                "must not be false in production mode",
            ));
        }
        let allowed_origins = match raw.get("ALLOWED_ORIGINS") {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let s = s.trim_end_matches('/');
                    origin_of(s)
                        .filter(|o| o.len() == s.len())
                        .ok_or_else(|| {
                            ConfigError::new(
                                "ALLOWED_ORIGINS",
                                format!(
                                    "must be comma-separated origins like https://app.example, got \"{s}\""
                                ),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => origin_of(&issuer).into_iter().collect(),
        };
        let access_cookie = raw.parse("ACCESS_COOKIE", "edgeauth_session".into(), cookie_name)?;
        let refresh_cookie = raw.parse("REFRESH_COOKIE", "edgeauth_refresh".into(), cookie_name)?;
        let argon2 = Argon2Costs {
            memory_kib: raw.number(
                "ARGON2_MEMORY_KIB",
                Argon2Costs::OWASP.memory_kib,
                8..=4 * 1024 * 1024,
            )?,
            iterations: raw.number("ARGON2_ITERATIONS", Argon2Costs::OWASP.iterations, 1..=64)?,
            parallelism: raw.number(
                "ARGON2_PARALLELISM",
                Argon2Costs::OWASP.parallelism,
                1..=64,
            )?,
        };
        if mode != Mode::Test
            && let Some(setting) = argon2.below_floor()
        {
            return Err(ConfigError::new(
                setting,
                "puts argon2 below its floor (memory >= 7168 KiB and memory x iterations >= 35840; OWASP recommends 19456 KiB, t=2)",
            ));
        }
        let cores = std::thread::available_parallelism().map_or(2, core::num::NonZeroUsize::get);
        let hash_concurrency = raw.number("HASH_CONCURRENCY", cores, 1..=1024)?;
        let hash_queue = raw.number("HASH_QUEUE", hash_concurrency * 8, 0..=100_000)?;
        let hash_wait_ms = raw.parse("HASH_WAIT", 500, parse_duration_ms)?;
        let min_length = raw.number("PASSWORD_MIN_LENGTH", 8usize, 8..=64)?;
        let max_length = raw.number("PASSWORD_MAX_LENGTH", 256usize, 64..=1024)?;
        let require_classes = raw.number("PASSWORD_REQUIRE_CLASSES", 0usize, 0..=4)?;
        let login_max_failures = raw.number("LOGIN_MAX_FAILURES", 20u32, 1..=100_000)?;
        let login_window = raw.duration_secs("LOGIN_WINDOW", 15 * 60)?;
        let body_limit = raw.number("BODY_LIMIT", 16 * 1024usize, 1024..=1024 * 1024)?;
        let jwks_max_age = raw.duration_secs("JWKS_MAX_AGE", 300)?;
        let key_reload = raw.duration_secs("KEY_RELOAD", 30)?;
        if key_reload == 0 {
            return Err(ConfigError::new("KEY_RELOAD", "must be at least 1s"));
        }
        let database_url = raw.parse(
            "DATABASE_URL",
            DatabaseUrl("sqlite://edgeauth.db".to_owned()),
            DatabaseUrl::parse,
        )?;
        let database_pool_size = raw.number("DATABASE_POOL_SIZE", 10u32, 1..=1000)?;
        // Several instances share a PostgreSQL database: another instance's
        // logout must count at once unless the operator chose otherwise.
        let session_cache = raw.duration_secs(
            "SESSION_CACHE",
            match database_url.backend() {
                Backend::Sqlite => 30,
                Backend::Postgres => 0,
            },
        )?;
        let sqlite_synchronous =
            raw.parse("SQLITE_SYNCHRONOUS", Synchronous::Normal, |v| {
                match v.to_ascii_lowercase().as_str() {
                    "normal" => Ok(Synchronous::Normal),
                    "full" => Ok(Synchronous::Full),
                    _ => Err(format!("must be normal or full, got \"{v}\"")),
                }
            })?;
        let log = raw.parse("LOG", "info".to_owned(), |v| {
            let v = v.to_ascii_lowercase();
            if ["error", "warn", "info", "debug", "trace"].contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!(
                    "must be error, warn, info, debug or trace, got \"{v}\""
                ))
            }
        })?;
        Ok(Self {
            mode,
            database_url,
            database_pool_size,
            bind,
            issuer,
            audience,
            access_ttl,
            refresh_ttl,
            session_lifetime,
            refresh_reuse_grace,
            max_sessions,
            master_key,
            master_key_file,
            cookie_secure,
            allowed_origins,
            access_cookie,
            refresh_cookie,
            argon2,
            hash_concurrency,
            hash_queue,
            hash_wait_ms,
            password: PasswordRules {
                min_length,
                max_length,
                require_classes,
            },
            login_max_failures,
            login_window,
            body_limit,
            jwks_max_age,
            key_reload,
            session_cache,
            sqlite_synchronous,
            log,
        })
    }

    /// The master key: the configured one, or in development and test mode
    /// the one in `MASTER_KEY_FILE`, generated on first use with a loud
    /// warning. Production mode never gets here without a key.
    pub fn resolve_master_key(&self) -> Result<MasterKey, ConfigError> {
        if let Some(key) = &self.master_key {
            return Ok(key.clone());
        }
        if self.mode == Mode::Production {
            return Err(ConfigError::new(
                "MASTER_KEY",
                "must be set in production mode",
            ));
        }
        let path = &self.master_key_file;
        let key = match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::parse(&text).map_err(|p| {
                ConfigError::new(
                    "MASTER_KEY_FILE",
                    format!("({}) holds a key that {p}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate().map_err(|e| {
                    ConfigError::new("MASTER_KEY_FILE", format!("cannot generate a key: {e}"))
                })?;
                write_private(path, &format!("{}\n", key.to_hex())).map_err(|e| {
                    ConfigError::new(
                        "MASTER_KEY_FILE",
                        format!("({}) cannot be written: {e}", path.display()),
                    )
                })?;
                key
            }
            Err(e) => {
                return Err(ConfigError::new(
                    "MASTER_KEY_FILE",
                    format!("({}) cannot be read: {e}", path.display()),
                ));
            }
        };
        tracing::warn!(
            "\n\n\
             ******************************************************************\n\
             *  DEVELOPMENT MODE: the master key that encrypts signing keys   *\n\
             *  is kept in the local file {:<35} *\n\
             *  Anyone who can read it can mint tokens. For production set    *\n\
             *  EDGEAUTH_MODE=production and EDGEAUTH_MASTER_KEY.             *\n\
             ******************************************************************\n",
            path.display().to_string()
        );
        Ok(key)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(
            vars.iter()
                .map(|(k, v)| (format!("EDGEAUTH_{k}"), (*v).to_owned())),
            None,
        )
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = load(&[]).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.database_url.as_str(), "sqlite://edgeauth.db");
        assert_eq!(c.session_cache, 30);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            (c.access_ttl, c.refresh_ttl, c.refresh_reuse_grace),
            (900, 14 * 86_400, 10)
        );
        assert_eq!(c.argon2, Argon2Costs::OWASP);
        assert_eq!(c.allowed_origins, ["http://127.0.0.1:8080"]);
    }

    #[test]
    fn database_url_picks_the_backend_and_hides_passwords() {
        let c = load(&[(
            "DATABASE_URL",
            "postgres://app:s3cret@db.internal:5432/auth",
        )])
        .unwrap();
        assert_eq!(c.database_url.backend(), Backend::Postgres);
        assert_eq!(c.session_cache, 0, "off by default on PostgreSQL");
        assert_eq!(
            c.database_url.to_string(),
            "postgres://app:***@db.internal:5432/auth"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = load(&[(
            "DATABASE_URL",
            "postgresql://db/auth?password=s3cret&sslmode=require",
        )])
        .unwrap();
        assert_eq!(
            c.database_url.to_string(),
            "postgresql://db/auth?password=***&sslmode=require"
        );
        let c = load(&[
            ("DATABASE_URL", "postgres://db/auth"),
            ("SESSION_CACHE", "5"),
        ])
        .unwrap();
        assert_eq!((c.session_cache, c.database_pool_size), (5, 10));
        for bad in [
            "mysql://db/auth",
            "edgeauth.db",
            "postgres://db:notaport/auth",
        ] {
            let e = load(&[("DATABASE_URL", bad)]).unwrap_err();
            assert_eq!(e.setting, "EDGEAUTH_DATABASE_URL", "{bad}");
        }
        let e = load(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_DATABASE_POOL_SIZE");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration_ms("900"), Ok(900_000));
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("14d"), Ok(14 * 86_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert!(parse_duration_ms("15 minutes").is_err());
        assert!(parse_duration_ms("-1").is_err());
        let c = load(&[("ACCESS_TTL", "5m"), ("REFRESH_REUSE_GRACE", "0")]).unwrap();
        assert_eq!((c.access_ttl, c.refresh_reuse_grace), (300, 0));
    }

    #[test]
    fn errors_name_the_setting() {
        let e = load(&[("ACCESS_TTL", "soon")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_ACCESS_TTL");
        assert!(e.to_string().contains("EDGEAUTH_ACCESS_TTL"));
        let e = load(&[("ARGON2_MEMORY_KIB", "1024")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_ARGON2_MEMORY_KIB");
        let e = load(&[("COOKIE_SECURE", "maybe")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_COOKIE_SECURE");
        let e = load(&[("BIND", "localhost")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_BIND");
    }

    #[test]
    fn production_refuses_missing_or_weak_secrets() {
        let e = load(&[("MODE", "production"), ("ISSUER", "https://auth.example")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_MASTER_KEY");
        let weak = "00".repeat(32);
        let e = load(&[
            ("MODE", "production"),
            ("ISSUER", "https://auth.example"),
            ("MASTER_KEY", &weak),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_MASTER_KEY");
        assert!(e.reason.contains("weak"));
        let key = MasterKey::generate().unwrap().to_hex();
        let e = load(&[("MODE", "production"), ("MASTER_KEY", &key)]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_ISSUER");
        let e = load(&[
            ("MODE", "production"),
            ("MASTER_KEY", &key),
            ("ISSUER", "https://auth.example"),
            ("COOKIE_SECURE", "false"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_COOKIE_SECURE");
        let ok = load(&[
            ("MODE", "production"),
            ("MASTER_KEY", &key),
            ("ISSUER", "https://auth.example/"),
        ])
        .unwrap();
        assert_eq!(ok.issuer, "https://auth.example");
        assert!(!format!("{ok:?}").contains(&key));
    }

    #[test]
    fn toml_file_under_environment() {
        let toml = "access_ttl = \"10m\"\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\nmax_sessions = 3\n";
        let c = Config::from_sources(
            [("EDGEAUTH_MAX_SESSIONS".to_owned(), "4".to_owned())],
            Some(toml),
        )
        .unwrap();
        assert_eq!(c.access_ttl, 600);
        assert_eq!(c.max_sessions, 4);
        assert_eq!(
            c.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        let e = Config::from_sources(Vec::new(), Some("acess_ttl = 5")).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_CONFIG");
        assert!(e.reason.contains("acess_ttl"));
    }

    #[test]
    fn test_mode_alone_allows_cheap_argon2() {
        assert!(load(&[("ARGON2_MEMORY_KIB", "64"), ("ARGON2_ITERATIONS", "1")]).is_err());
        let c = load(&[
            ("MODE", "test"),
            ("ARGON2_MEMORY_KIB", "64"),
            ("ARGON2_ITERATIONS", "1"),
        ])
        .unwrap();
        assert_eq!(c.argon2.memory_kib, 64);
    }
}
