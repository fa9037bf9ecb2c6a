//! Signing keys: the master key that seals them, how long the JWKS may be
//! cached, how often a running server rereads them.

use std::path::{Path, PathBuf};

use super::{ConfigError, Mode, raw::Raw};
use crate::secret::MasterKey;

/// The master key and the signing keys' schedule. `Debug` never shows the
/// master key.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// `EDGEAUTH_MASTER_KEY`: 32 bytes, hex or base64. Required in
    /// production; development and test keep a generated one in
    /// `EDGEAUTH_MASTER_KEY_FILE`.
    pub master_key: Option<MasterKey>,
    /// `EDGEAUTH_MASTER_KEY_FILE`: where development keeps a generated
    /// master key, default `edgeauth.master-key`.
    pub master_key_file: PathBuf,
    /// `EDGEAUTH_JWKS_MAX_AGE` in seconds for the JWKS's Cache-Control,
    /// default 300.
    pub jwks_max_age: u64,
    /// `EDGEAUTH_KEY_RELOAD` in seconds: how often a running server rereads
    /// the signing keys (to see `keys rotate`), default 30, at least 1.
    pub key_reload: u64,
    /// `EDGEAUTH_KEY_PUBLISH_AHEAD` in seconds: how long a new key is
    /// published before it signs, default twice `EDGEAUTH_JWKS_MAX_AGE`
    /// (at least `EDGEAUTH_KEY_RELOAD`); never less than
    /// `EDGEAUTH_KEY_RELOAD`, so every instance sees a key before it signs.
    pub publish_ahead: u64,
    /// `EDGEAUTH_KEY_ROTATION_INTERVAL` in seconds: a running server
    /// rotates the signing key once it has signed this long; default 0
    /// (off), else longer than `EDGEAUTH_KEY_PUBLISH_AHEAD`.
    pub rotation_interval: u64,
}

impl KeySettings {
    pub(super) fn read(raw: &mut Raw, mode: Mode) -> Result<Self, ConfigError> {
        let master_key = raw.parse_opt("MASTER_KEY", |v| {
            MasterKey::parse(v).map_err(|p| p.to_string())
        })?;
        if master_key.is_none() && mode == Mode::Production {
            return Err(ConfigError::new(
                "MASTER_KEY",
                "must be set in production mode (32 random bytes, hex or base64; `edgeauth keys generate-master-key` prints one)",
            ));
        }
        let settings = Self {
            master_key,
            master_key_file: raw.parse(
                "MASTER_KEY_FILE",
                PathBuf::from("edgeauth.master-key"),
                |v| Ok(PathBuf::from(v)),
            )?,
            jwks_max_age: raw.duration_secs("JWKS_MAX_AGE", 300)?,
            key_reload: raw.duration_secs("KEY_RELOAD", 30)?,
            publish_ahead: 0,
            rotation_interval: raw.duration_secs("KEY_ROTATION_INTERVAL", 0)?,
        };
        if settings.key_reload == 0 {
            return Err(ConfigError::new("KEY_RELOAD", "must be at least 1s"));
        }
        let publish_ahead = raw.duration_secs(
            "KEY_PUBLISH_AHEAD",
            settings
                .jwks_max_age
                .saturating_mul(2)
                .max(settings.key_reload),
        )?;
        if publish_ahead < settings.key_reload {
            return Err(ConfigError::new(
                "KEY_PUBLISH_AHEAD",
                "must be at least EDGEAUTH_KEY_RELOAD (every instance must see a key before it signs)",
            ));
        }
        let rotation_interval = settings.rotation_interval;
        if rotation_interval != 0 && rotation_interval <= publish_ahead {
            return Err(ConfigError::new(
                "KEY_ROTATION_INTERVAL",
                "must be longer than EDGEAUTH_KEY_PUBLISH_AHEAD (or 0, off)",
            ));
        }
        let settings = Self {
            publish_ahead,
            ..settings
        };
        Ok(settings)
    }

    /// The master key: the configured one, or in development and test mode
    /// the one in `MASTER_KEY_FILE`, generated on first use with a loud
    /// warning. Production mode never gets here without a key.
    pub(super) fn resolve_master_key(&self, mode: Mode) -> Result<MasterKey, ConfigError> {
        if let Some(key) = &self.master_key {
            return Ok(key.clone());
        }
        if mode == Mode::Production {
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
