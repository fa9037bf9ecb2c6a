//! Configuration: `EDGEAUTH_*` environment variables over an optional TOML
//! file (the same names, lowercase, without the prefix). Every problem names
//! the setting, and bad configuration stops the server before it starts.
//!
//! In the TOML file a setting may also sit in a table: a key's name is its
//! tables' names and its own joined by `_`, so `[login] max_failures = 5`
//! is `EDGEAUTH_LOGIN_MAX_FAILURES` and `[oauth.github] client_id` would be
//! `EDGEAUTH_OAUTH_GITHUB_CLIENT_ID`. Lists are joined with commas. Giving
//! one setting twice (`login_window` and `[login] window`) is an error.
//!
//! The settings come in sections, one file each. A setting is declared once
//! in its section: a field whose doc comment names the variable, its default
//! and range, and one line in the section's `read` that reads it from the
//! raw map (`raw.rs`). The map records every name read, so a TOML key
//! that no section read is refused by name; unknown `EDGEAUTH_*` variables
//! are ignored, since other components share the prefix.

use core::fmt;
use std::path::{Path, PathBuf};

mod audit;
mod connections;
mod cookies;
mod database;
mod keys;
mod mail;
mod passwords;
mod raw;
mod revocations;
mod server;
mod sessions;
mod telemetry;
mod throttle;

use self::raw::Raw;
pub use self::{
    audit::AuditSettings,
    connections::ConnectionSettings,
    cookies::CookieSettings,
    database::{Backend, DatabaseSettings, DatabaseUrl, Synchronous},
    keys::KeySettings,
    mail::{MailSettings, SmtpUrl},
    passwords::{Argon2Costs, PasswordRules, PasswordSettings},
    raw::parse_duration_ms,
    revocations::RevocationSettings,
    server::ServerSettings,
    sessions::SessionSettings,
    telemetry::{LogFormat, TelemetrySettings},
    throttle::{Rate, ThrottleSettings},
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

impl Mode {
    fn parse(v: &str) -> Result<Self, String> {
        match v.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "production" | "prod" => Ok(Self::Production),
            "test" => Ok(Self::Test),
            _ => Err(format!(
                "must be development, production or test, got \"{v}\""
            )),
        }
    }
}

/// The server's settings, one field per section. `Debug` never shows the
/// master key.
#[derive(Debug, Clone)]
pub struct Config {
    /// `EDGEAUTH_MODE`: development (default), production or test.
    pub mode: Mode,
    /// Listening address, issuer, audience, body limit, log level.
    pub server: ServerSettings,
    /// Database URL, pool size, SQLite durability.
    pub database: DatabaseSettings,
    /// Master key, JWKS caching, key reload.
    pub keys: KeySettings,
    /// Token lifetimes, refresh rotation, sessions per user, session cache.
    pub sessions: SessionSettings,
    /// Cookie names and attributes, allowed origins.
    pub cookies: CookieSettings,
    /// argon2 costs, hashing slots, password rules.
    pub passwords: PasswordSettings,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// The revocation feed.
    pub revocations: RevocationSettings,
    /// Slow clients: deadlines and the connection cap.
    pub connections: ConnectionSettings,
    /// The metrics listener and the log format.
    pub telemetry: TelemetrySettings,
    /// The audit log's retention.
    pub audit: AuditSettings,
    /// Mail delivery and the email flows.
    pub mail: MailSettings,
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
        let mut raw = Raw::new(vars, toml)?;
        let config = Self::read(&mut raw)?;
        raw.refuse_unread()?;
        Ok(config)
    }

    /// Reads every section, in an order that lets later defaults depend on
    /// earlier settings (the issuer on the bind address, the origins on the
    /// issuer, the session cache on the backend).
    fn read(raw: &mut Raw) -> Result<Self, ConfigError> {
        let given = raw.parse_opt("MODE", Mode::parse)?;
        let mode = given.unwrap_or(Mode::Development);
        let server = ServerSettings::read(raw, mode, given.is_some())?;
        let database = DatabaseSettings::read(raw, mode)?;
        let keys = KeySettings::read(raw, mode)?;
        let sessions = SessionSettings::read(raw, database.url.backend())?;
        let cookies = CookieSettings::read(raw, mode, &server.issuer)?;
        let passwords = PasswordSettings::read(raw, mode)?;
        let throttle = ThrottleSettings::read(raw)?;
        let revocations = RevocationSettings::read(raw)?;
        let connections = ConnectionSettings::read(raw)?;
        let telemetry = TelemetrySettings::read(raw, server.bind)?;
        let audit = AuditSettings::read(raw)?;
        let mail = MailSettings::read(raw, mode, &server.issuer)?;
        Ok(Self {
            mode,
            server,
            database,
            keys,
            sessions,
            cookies,
            passwords,
            throttle,
            revocations,
            connections,
            telemetry,
            audit,
            mail,
        })
    }

    /// The master key: the configured one, or in development and test mode
    /// the one in `EDGEAUTH_MASTER_KEY_FILE`, generated on first use with a
    /// loud warning. Production mode never gets here without a key.
    pub fn resolve_master_key(&self) -> Result<MasterKey, ConfigError> {
        self.keys.resolve_master_key(self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(
            vars.iter()
                .map(|(k, v)| (format!("EDGEAUTH_{k}"), (*v).to_owned())),
            None,
        )
    }

    /// Production mode with a master key and an https issuer, and `extra`.
    pub(super) fn production(key: &str, extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = vec![
            ("MODE", "production"),
            ("MASTER_KEY", key),
            ("ISSUER", "https://auth.example"),
        ];
        vars.extend_from_slice(extra);
        load(&vars)
    }

    #[test]
    fn defaults_need_no_configuration() {
        let c = load(&[]).unwrap();
        assert_eq!(c.mode, Mode::Development);
        assert_eq!(c.database.url.as_str(), "sqlite://edgeauth.db");
        assert_eq!(c.sessions.cache, 30);
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            (
                c.sessions.access_ttl,
                c.sessions.refresh_ttl,
                c.sessions.reuse_grace
            ),
            (900, 14 * 86_400, 10)
        );
        assert_eq!(c.passwords.argon2, Argon2Costs::OWASP);
        assert_eq!(c.cookies.allowed_origins, ["http://127.0.0.1:8080"]);
    }

    #[test]
    fn database_url_picks_the_backend_and_hides_passwords() {
        let c = load(&[(
            "DATABASE_URL",
            "postgres://app:s3cret@db.internal:5432/auth",
        )])
        .unwrap();
        assert_eq!(c.database.url.backend(), Backend::Postgres);
        assert_eq!(c.sessions.cache, 0, "off by default on PostgreSQL");
        assert_eq!(
            c.database.url.to_string(),
            "postgres://app:***@db.internal:5432/auth"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = load(&[(
            "DATABASE_URL",
            "postgresql://db/auth?password=s3cret&sslmode=require",
        )])
        .unwrap();
        assert_eq!(
            c.database.url.to_string(),
            "postgresql://db/auth?password=***&sslmode=require"
        );
        let c = load(&[
            ("DATABASE_URL", "postgres://db/auth"),
            ("SESSION_CACHE", "5"),
        ])
        .unwrap();
        assert_eq!((c.sessions.cache, c.database.pool_size), (5, 10));
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
        assert_eq!((c.sessions.access_ttl, c.sessions.reuse_grace), (300, 0));
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
            ("SMTP_URL", "smtps://mail.example"),
            ("MAIL_FROM", "no-reply@auth.example"),
        ])
        .unwrap();
        assert_eq!(ok.server.issuer, "https://auth.example");
        assert!(!format!("{ok:?}").contains(&key));
    }

    #[test]
    fn exposure_beyond_loopback_takes_a_deliberate_mode() {
        let e = load(&[("BIND", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_BIND");
        assert!(e.reason.contains("EDGEAUTH_MODE"), "{e}");
        let e = load(&[("MODE", "test"), ("BIND", "192.0.2.1:8080")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_BIND");
        let c = load(&[("MODE", "development"), ("BIND", "0.0.0.0:8080")]).unwrap();
        assert_eq!(c.server.bind.port(), 8080);
        assert!(load(&[("BIND", "[::1]:8080")]).is_ok());
        assert!(load(&[("MODE", "test"), ("BIND", "127.0.0.2:0")]).is_ok());
    }

    #[test]
    fn production_refuses_plain_http_origins_and_remote_databases_without_tls() {
        let key = MasterKey::generate().unwrap().to_hex();
        let prod = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![
                ("SMTP_URL", "smtps://mail.example"),
                ("MAIL_FROM", "no-reply@auth.example"),
            ];
            vars.extend_from_slice(extra);
            production(&key, &vars)
        };
        assert!(prod(&[]).is_ok());
        let e = prod(&[("ALLOWED_ORIGINS", "https://a.example,http://b.example")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_ALLOWED_ORIGINS");
        for remote in [
            "postgres://app:pw@db.internal/auth",
            "postgres://app@10.0.0.5/auth?sslmode=prefer",
            "postgres://app@db.internal/auth?sslmode=disable",
        ] {
            let e = prod(&[("DATABASE_URL", remote)]).unwrap_err();
            assert_eq!(e.setting, "EDGEAUTH_DATABASE_URL", "{remote}");
            assert!(!e.to_string().contains("pw@"), "{e}");
        }
        for fine in [
            "postgres://app@db.internal/auth?sslmode=require",
            "postgres://app@db.internal/auth?sslmode=verify-full",
            "postgres://app@127.0.0.1/auth",
            "postgres://app@localhost/auth",
            "postgres://app@[::1]/auth",
            "postgres:///auth?host=/run/postgresql",
            "sqlite://edgeauth.db",
        ] {
            assert!(prod(&[("DATABASE_URL", fine)]).is_ok(), "{fine}");
        }
        assert!(load(&[("DATABASE_URL", "postgres://app@db.internal/auth")]).is_ok());
    }

    #[test]
    fn cookie_prefixes_are_checked() {
        let c = load(&[
            ("ACCESS_COOKIE", "__Host-session"),
            ("REFRESH_COOKIE", "__Secure-refresh"),
        ])
        .unwrap();
        assert_eq!(c.cookies.access_name, "__Host-session");
        let e = load(&[("REFRESH_COOKIE", "__Host-refresh")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_REFRESH_COOKIE");
        let e = load(&[
            ("ACCESS_COOKIE", "__Host-session"),
            ("COOKIE_SECURE", "false"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_ACCESS_COOKIE");
        let e = load(&[("REFRESH_COOKIE", "__secure-r"), ("COOKIE_SECURE", "false")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_REFRESH_COOKIE");
    }

    #[test]
    fn toml_file_under_environment() {
        let toml = "access_ttl = \"10m\"\nallowed_origins = [\"https://a.example\", \"https://b.example\"]\nmax_sessions = 3\n";
        let c = Config::from_sources(
            [("EDGEAUTH_MAX_SESSIONS".to_owned(), "4".to_owned())],
            Some(toml),
        )
        .unwrap();
        assert_eq!(c.sessions.access_ttl, 600);
        assert_eq!(c.sessions.max_per_user, 4);
        assert_eq!(
            c.cookies.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        let e = Config::from_sources(Vec::new(), Some("acess_ttl = 5")).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_CONFIG");
        assert!(e.reason.contains("acess_ttl"));
    }

    fn from_toml(toml: &str) -> Result<Config, ConfigError> {
        Config::from_sources(Vec::new(), Some(toml))
    }

    #[test]
    fn toml_tables_join_their_names_with_underscores() {
        let c = from_toml("[login]\nmax_failures = 5\nwindow = \"2m\"\n").unwrap();
        assert_eq!(c.throttle.login_max_failures, 5);
        assert_eq!(c.throttle.login_window, 120);
        // Nested and inline tables, next to top-level keys.
        let c = from_toml(
            "access_ttl = \"10m\"\nsession = { lifetime = \"30d\" }\n\
             [password.require]\nclasses = 3\n[refresh.reuse]\ngrace = 0\n",
        )
        .unwrap();
        assert_eq!(c.sessions.access_ttl, 600);
        assert_eq!(c.sessions.lifetime, 30 * 86_400);
        assert_eq!(c.passwords.rules.require_classes, 3);
        assert_eq!(c.sessions.reuse_grace, 0);
        // Arrays inside a table are still joined with commas.
        let c = from_toml("[allowed]\norigins = [\"https://a.example\", \"https://b.example\"]\n")
            .unwrap();
        assert_eq!(
            c.cookies.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        // A bad value in a table names the environment variable.
        let e = from_toml("[login]\nwindow = \"soon\"\n").unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_LOGIN_WINDOW");
        let e = from_toml("[login]\nwindow = 1.5\n").unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_LOGIN_WINDOW");
    }

    #[test]
    fn toml_tables_refuse_unknown_keys_by_full_name() {
        let e = from_toml("[login]\nmax_failure = 5\n").unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_CONFIG");
        assert!(e.reason.contains("\"login.max_failure\""), "{e}");
        let e = from_toml("[oauth.github]\nclient_id = \"abc\"\n").unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_CONFIG");
        assert!(e.reason.contains("\"oauth.github.client_id\""), "{e}");
        // The same name given twice, once flat and once in a table.
        let e = from_toml("login_max_failures = 4\n[login]\nmax_failures = 5\n").unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_LOGIN_MAX_FAILURES");
        // Unknown environment variables stay ignored: other components
        // share the prefix.
        let c = load(&[("OAUTH_GITHUB_CLIENT_ID", "abc"), ("GATE_COOKIE", "x")]).unwrap();
        assert_eq!(c.throttle.login_max_failures, 20);
    }

    /// The names are the contract: every one of them is still read by some
    /// section, so none of them is refused as unknown.
    #[test]
    fn every_setting_name_is_still_read() {
        let key = MasterKey::generate().unwrap().to_hex();
        let toml = format!(
            "mode = \"test\"\ndatabase_url = \"sqlite://x.db\"\ndatabase_pool_size = 4\n\
             bind = \"127.0.0.1:9000\"\nissuer = \"http://localhost:9000\"\naudience = \"api\"\n\
             access_ttl = 600\nrefresh_ttl = \"7d\"\nsession_lifetime = \"30d\"\n\
             refresh_reuse_grace = 5\nmax_sessions = 3\nmaster_key = \"{key}\"\n\
             master_key_file = \"k\"\ncookie_secure = false\n\
             allowed_origins = [\"http://a.example\"]\naccess_cookie = \"a\"\n\
             refresh_cookie = \"r\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n\
             argon2_parallelism = 2\nhash_concurrency = 3\nhash_queue = 5\nhash_wait = \"1s\"\n\
             password_min_length = 10\npassword_max_length = 128\npassword_require_classes = 2\n\
             login_max_failures = 6\nlogin_window = \"1h\"\nbody_limit = 2048\n\
             jwks_max_age = 60\nkey_reload = 15\nsession_cache = 7\n\
             sqlite_synchronous = \"full\"\nlog = \"debug\"\n\
             login_address_max_failures = 50\nlogin_account_max_failures = 500\n\
             register_rate = \"5/1h\"\ntoken_rate = \"off\"\nrefresh_rate = \"100/1m\"\n\
             trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\
             refresh_max_per_minute = 30\nsession_purge_after = \"2d\"\n"
        );
        let c = from_toml(&toml).unwrap();
        assert_eq!(c.mode, Mode::Test);
        assert_eq!(
            (c.server.bind.port(), c.server.audience.as_str()),
            (9000, "api")
        );
        assert_eq!(
            (c.server.body_limit, c.server.log.as_str()),
            (2048, "debug")
        );
        assert_eq!(c.database.pool_size, 4);
        assert_eq!(c.database.sqlite_synchronous, Synchronous::Full);
        assert_eq!((c.keys.jwks_max_age, c.keys.key_reload), (60, 15));
        assert!(c.keys.master_key.is_some());
        assert_eq!(
            c.sessions,
            SessionSettings {
                access_ttl: 600,
                refresh_ttl: 7 * 86_400,
                lifetime: 30 * 86_400,
                reuse_grace: 5,
                max_per_user: 3,
                cache: 7,
                refresh_max_per_minute: 30,
                purge_after: 2 * 86_400,
            }
        );
        assert!(!c.cookies.secure);
        assert_eq!(
            (
                c.cookies.access_name.as_str(),
                c.cookies.refresh_name.as_str()
            ),
            ("a", "r")
        );
        assert_eq!(
            (
                c.passwords.hash_concurrency,
                c.passwords.hash_queue,
                c.passwords.hash_wait_ms
            ),
            (3, 5, 1000)
        );
        assert_eq!(c.passwords.argon2.parallelism, 2);
        assert_eq!(
            (c.passwords.rules.min_length, c.passwords.rules.max_length),
            (10, 128)
        );
        assert_eq!(
            c.throttle,
            ThrottleSettings {
                login_max_failures: 6,
                login_address_max_failures: 50,
                login_account_max_failures: 500,
                login_window: 3600,
                register_rate: Some(Rate {
                    count: 5,
                    per_ms: 3_600_000
                }),
                token_rate: None,
                refresh_rate: Some(Rate {
                    count: 100,
                    per_ms: 60_000
                }),
                trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            }
        );
    }

    #[test]
    fn environment_wins_over_toml_tables() {
        let c = Config::from_sources(
            [("EDGEAUTH_LOGIN_MAX_FAILURES".to_owned(), "7".to_owned())],
            Some("[login]\nmax_failures = 5\nwindow = \"1h\"\n"),
        )
        .unwrap();
        assert_eq!(c.throttle.login_max_failures, 7);
        assert_eq!(c.throttle.login_window, 3600);
        // A blank variable still means the default, as for flat keys.
        let c = Config::from_sources(
            [("EDGEAUTH_LOGIN_MAX_FAILURES".to_owned(), String::new())],
            Some("[login]\nmax_failures = 5\n"),
        )
        .unwrap();
        assert_eq!(c.throttle.login_max_failures, 20);
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
        assert_eq!(c.passwords.argon2.memory_kib, 64);
    }
}
