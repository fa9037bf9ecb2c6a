//! Mail: where it goes (an SMTP server, or files in development), who it
//! is from, the base of the links it carries, how the outbox retries, and
//! whether sign-in needs a verified address.

use core::fmt;
use std::path::PathBuf;

use super::{ConfigError, Mode, Rate, database::write_masked, raw::Raw, throttle::parse_rate};

/// Mail delivery and the email flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `EDGEAUTH_SMTP_URL`: the mail server. `smtps://HOST[:465]` (TLS
    /// from the first byte), `smtp://HOST[:587]?tls=required` (STARTTLS,
    /// refused without it), `smtp://HOST[:587]?tls=opportunistic`
    /// (STARTTLS when offered) or `smtp://HOST[:25]` (no TLS: for a relay
    /// on this machine; production refuses it for any other host).
    /// Credentials go in the URL (`smtps://USER:PASSWORD@HOST`); a path
    /// (`/NAME`) is the name sent in EHLO. Its `Debug` and `Display` hide
    /// the password. Unset: development and test write each mail to a file
    /// under `EDGEAUTH_OUTBOX_DIR`; production refuses to start.
    pub smtp_url: Option<SmtpUrl>,
    /// `EDGEAUTH_MAIL_FROM`: the `From` of every mail, `Name <address>` or
    /// an address; default `edgeauth <edgeauth@localhost>` outside
    /// production, which requires it.
    pub from: String,
    /// `EDGEAUTH_PUBLIC_URL`: the base of the links in mail
    /// (`{PUBLIC_URL}/auth/password/reset?token=...`), default the issuer;
    /// https in production.
    pub public_url: String,
    /// `EDGEAUTH_PRODUCT_NAME`: the name mails and pages speak for, default
    /// `edgeauth`.
    pub product_name: String,
    /// `EDGEAUTH_OUTBOX_DIR`: where mails go as `.eml` files without
    /// `EDGEAUTH_SMTP_URL`, default `./outbox`.
    pub outbox_dir: PathBuf,
    /// `EDGEAUTH_REQUIRE_EMAIL_VERIFICATION`: when true, a password login
    /// of an unverified address answers 403 `email_not_verified` (after the
    /// password checked out), and registration sends the verification
    /// mail; default false.
    pub require_verification: bool,
    /// `EDGEAUTH_MAIL_RATE`: requests per client address to the endpoints
    /// that send mail, default `5/10m`; `off` disables.
    pub rate: Option<Rate>,
    /// `EDGEAUTH_MAIL_MAX_ATTEMPTS`: send attempts per mail before it is
    /// marked failed, default 8, 1..=50.
    pub max_attempts: u32,
    /// `EDGEAUTH_MAIL_RETRY_BASE`: the wait after a first failed attempt,
    /// doubled after each further one (at most 1 h), default 30 s.
    pub retry_base: u64,
    /// `EDGEAUTH_SMTP_TIMEOUT`: the longest one SMTP conversation may
    /// take, default 30 s, 1 s..=5 m. A sender's lease on a mail is twice
    /// this: after a crash, its mails wait that long before another sender
    /// takes them.
    pub smtp_timeout: u64,
}

impl MailSettings {
    /// The lease a sender holds on a claimed mail, seconds.
    pub fn lease(&self) -> u64 {
        self.smtp_timeout.saturating_mul(2)
    }

    pub(super) fn read(raw: &mut Raw, mode: Mode, issuer: &str) -> Result<Self, ConfigError> {
        let production = mode == Mode::Production;
        let smtp_url = raw.parse_opt("SMTP_URL", SmtpUrl::parse)?;
        match &smtp_url {
            None if production => {
                return Err(ConfigError::new(
                    "SMTP_URL",
                    "is required in production mode (mail would otherwise go to files)",
                ));
            }
            Some(url) if production && url.plain_beyond_loopback() => {
                return Err(ConfigError::new(
                    "SMTP_URL",
                    format!(
                        "sends mail without TLS to a host beyond this machine: use smtps:// or \
                         ?tls=required in production mode ({url})"
                    ),
                ));
            }
            _ => {}
        }
        let from = match raw.parse_opt("MAIL_FROM", header_text)? {
            Some(from) => from,
            None if production => {
                return Err(ConfigError::new(
                    "MAIL_FROM",
                    "is required in production mode",
                ));
            }
            None => "edgeauth <edgeauth@localhost>".to_owned(),
        };
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "MAIL_FROM",
                format!("must be an address or Name <address>, got \"{from}\""),
            ));
        }
        let public_url = raw.parse("PUBLIC_URL", issuer.to_owned(), |v| {
            let v = v.trim_end_matches('/');
            if v.starts_with("https://") || (!production && v.starts_with("http://")) {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "must be an https:// URL (or http:// outside production), got \"{v}\""
                ))
            }
        })?;
        Ok(Self {
            smtp_url,
            from,
            public_url,
            product_name: raw.parse("PRODUCT_NAME", "edgeauth".to_owned(), header_text)?,
            outbox_dir: raw.parse("OUTBOX_DIR", PathBuf::from("./outbox"), |v| {
                Ok(PathBuf::from(v))
            })?,
            require_verification: raw.bool("REQUIRE_EMAIL_VERIFICATION", false)?,
            rate: raw.parse(
                "MAIL_RATE",
                Some(Rate {
                    count: 5,
                    per_ms: 600_000,
                }),
                parse_rate,
            )?,
            max_attempts: raw.number("MAIL_MAX_ATTEMPTS", 8, 1..=50)?,
            retry_base: raw.duration_secs("MAIL_RETRY_BASE", 30)?.max(1),
            smtp_timeout: {
                let t = raw.duration_secs("SMTP_TIMEOUT", 30)?;
                if !(1..=300).contains(&t) {
                    return Err(ConfigError::new(
                        "SMTP_TIMEOUT",
                        format!("must be between 1s and 5m, got {t}s"),
                    ));
                }
                t
            },
        })
    }
}

/// A value that goes into a mail header: no CR or LF.
fn header_text(v: &str) -> Result<String, String> {
    if v.contains(['\r', '\n']) {
        Err("must not contain CR or LF".into())
    } else {
        Ok(v.to_owned())
    }
}

/// `SMTP_URL`. Its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    fn parse(v: &str) -> Result<Self, String> {
        let url = Self(v.to_owned());
        let lower = v.to_ascii_lowercase();
        if !(lower.starts_with("smtp://") || lower.starts_with("smtps://")) {
            return Err(format!(
                "must be smtps://HOST or smtp://HOST?tls=required, got \"{url}\""
            ));
        }
        match url.tls() {
            None | Some("required" | "opportunistic") => {}
            Some(other) => {
                return Err(format!(
                    "takes tls=required or tls=opportunistic, got tls={other}"
                ));
            }
        }
        if url.host().is_empty() {
            return Err(format!("names no host: {url}"));
        }
        Ok(url)
    }

    /// The URL itself, password included: only for connecting.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn tls(&self) -> Option<&str> {
        let (_, query) = self.0.split_once('?')?;
        query.split('&').find_map(|p| p.strip_prefix("tls="))
    }

    fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        }
    }

    /// Plain `smtp://` without `tls=` to a host that is not loopback.
    fn plain_beyond_loopback(&self) -> bool {
        let plain = self.0.to_ascii_lowercase().starts_with("smtp://") && self.tls().is_none();
        let host = self.host();
        let local = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<core::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        plain && !local
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_masked(f, &self.0)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::super::tests::{load, production};
    use crate::secret::MasterKey;

    #[test]
    fn defaults_write_files_in_development() {
        let c = load(&[]).unwrap();
        assert_eq!(c.mail.smtp_url, None);
        assert_eq!(c.mail.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.mail.outbox_dir.to_str(), Some("./outbox"));
        assert!(!c.mail.require_verification);
        assert_eq!(c.mail.rate.map(|r| (r.count, r.per_ms)), Some((5, 600_000)));
        assert_eq!((c.mail.max_attempts, c.mail.retry_base), (8, 30));
        assert_eq!(c.mail.lease(), 60);
    }

    #[test]
    fn smtp_urls_hide_their_password() {
        let c = load(&[("SMTP_URL", "smtps://mailer:s3cret@mail.example:465")]).unwrap();
        let url = c.mail.smtp_url.clone().unwrap();
        assert_eq!(url.to_string(), "smtps://mailer:***@mail.example:465");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(load(&[("SMTP_URL", "smtp://relay.example?tls=required")]).is_ok());
        for bad in [
            "http://mail.example",
            "smtp://mail.example?tls=maybe",
            "smtp://:pw@/x",
        ] {
            let e = load(&[("SMTP_URL", bad)]).unwrap_err();
            assert_eq!(e.setting, "EDGEAUTH_SMTP_URL", "{bad}");
            assert!(!e.to_string().contains("pw@"), "{e}");
        }
    }

    #[test]
    fn header_values_refuse_line_breaks() {
        let e = load(&[("MAIL_FROM", "a@example.com\r\nBcc: x@example.com")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_MAIL_FROM");
        let e = load(&[("MAIL_FROM", "not an address")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_MAIL_FROM");
        let e = load(&[("PRODUCT_NAME", "x\nBcc: y")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_PRODUCT_NAME");
    }

    #[test]
    fn production_needs_a_mail_server_with_tls() {
        let key = MasterKey::generate().unwrap().to_hex();
        let prod = |extra: &[(&'static str, &'static str)]| production(&key, extra);
        assert_eq!(prod(&[]).unwrap_err().setting, "EDGEAUTH_SMTP_URL");
        let e = prod(&[("SMTP_URL", "smtp://u:pw@mail.example")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_SMTP_URL");
        assert!(!e.to_string().contains("pw@"), "{e}");
        let e = prod(&[("SMTP_URL", "smtps://mail.example")]).unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_MAIL_FROM");
        let ok = prod(&[
            ("SMTP_URL", "smtp://127.0.0.1:25"),
            ("MAIL_FROM", "Example <no-reply@example.com>"),
        ])
        .unwrap();
        assert_eq!(ok.mail.public_url, "https://auth.example");
        let e = prod(&[
            ("SMTP_URL", "smtps://mail.example"),
            ("MAIL_FROM", "no-reply@example.com"),
            ("PUBLIC_URL", "http://auth.example"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "EDGEAUTH_PUBLIC_URL");
    }
}
