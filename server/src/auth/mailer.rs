//! Composing and delivering one mail: the templates (`server/templates/`,
//! compiled in), the `From`, the links' base, and the transport, which is
//! an SMTP server (lettre over rustls) or, without `SMTP_URL` outside
//! production, a folder of `.eml` files.
//!
//! Header injection is impossible by construction: every header value
//! (the recipient's address and name, `From`, the subject) is refused when
//! it holds CR or LF, before lettre (which encodes names) sees it.

use core::{fmt, time::Duration};
use std::path::PathBuf;

use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use minijinja::{Environment, Value, context};

use crate::config::MailSettings;

/// The templates, by name, as compiled in.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "mail/base.html",
        include_str!("../../templates/mail/base.html"),
    ),
    (
        "mail/button.html",
        include_str!("../../templates/mail/button.html"),
    ),
    (
        "mail/verify.txt",
        include_str!("../../templates/mail/verify.txt"),
    ),
    (
        "mail/verify.html",
        include_str!("../../templates/mail/verify.html"),
    ),
    (
        "mail/reset.txt",
        include_str!("../../templates/mail/reset.txt"),
    ),
    (
        "mail/reset.html",
        include_str!("../../templates/mail/reset.html"),
    ),
    (
        "mail/magic_link.txt",
        include_str!("../../templates/mail/magic_link.txt"),
    ),
    (
        "mail/magic_link.html",
        include_str!("../../templates/mail/magic_link.html"),
    ),
    (
        "mail/email_change.txt",
        include_str!("../../templates/mail/email_change.txt"),
    ),
    (
        "mail/email_change.html",
        include_str!("../../templates/mail/email_change.html"),
    ),
    (
        "mail/email_change_notice.txt",
        include_str!("../../templates/mail/email_change_notice.txt"),
    ),
    (
        "mail/email_change_notice.html",
        include_str!("../../templates/mail/email_change_notice.html"),
    ),
    (
        "mail/password_changed.txt",
        include_str!("../../templates/mail/password_changed.txt"),
    ),
    (
        "mail/password_changed.html",
        include_str!("../../templates/mail/password_changed.html"),
    ),
    (
        "mail/password_reset.txt",
        include_str!("../../templates/mail/password_reset.txt"),
    ),
    (
        "mail/password_reset.html",
        include_str!("../../templates/mail/password_reset.html"),
    ),
    (
        "pages/base.html",
        include_str!("../../templates/pages/base.html"),
    ),
    (
        "pages/form.html",
        include_str!("../../templates/pages/form.html"),
    ),
    (
        "pages/result.html",
        include_str!("../../templates/pages/result.html"),
    ),
];

/// What a mail is, and what its link (if any) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A verification link (24 h).
    Verify,
    /// A password-reset link (1 h).
    Reset,
    /// A sign-in link (15 min).
    MagicLink,
    /// A link confirming a new address, sent to it (24 h).
    EmailChange,
    /// To the old address: a change was asked for.
    EmailChangeNotice,
    /// The password was changed.
    PasswordChanged,
    /// The password was reset.
    PasswordReset,
}

impl Kind {
    const ALL: [Self; 7] = [
        Self::Verify,
        Self::Reset,
        Self::MagicLink,
        Self::EmailChange,
        Self::EmailChangeNotice,
        Self::PasswordChanged,
        Self::PasswordReset,
    ];

    /// The name stored in the outbox, of the templates, and of the link's
    /// purpose.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::MagicLink => "magic_link",
            Self::EmailChange => "email_change",
            Self::EmailChangeNotice => "email_change_notice",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The link's path and lifetime (seconds), for the kinds with a link.
    pub(crate) fn link(self) -> Option<(&'static str, u64)> {
        match self {
            Self::Verify => Some(("/auth/email/verify", 24 * 3600)),
            Self::Reset => Some(("/auth/password/reset", 3600)),
            Self::MagicLink => Some(("/auth/magic-link", 15 * 60)),
            Self::EmailChange => Some(("/auth/email/change", 24 * 3600)),
            _ => None,
        }
    }

    /// Whether the mail is only worth sending while the account still has
    /// the address it was queued for (a link bound to that address).
    pub(crate) fn needs_current_address(self) -> bool {
        matches!(self, Self::Verify | Self::Reset | Self::MagicLink)
    }

    fn subject(self, product: &str) -> String {
        match self {
            Self::Verify => format!("Verify your email address for {product}"),
            Self::Reset => format!("Reset your {product} password"),
            Self::MagicLink => format!("Your {product} sign-in link"),
            Self::EmailChange => format!("Confirm your new {product} email address"),
            Self::EmailChangeNotice => format!("Your {product} email address is being changed"),
            Self::PasswordChanged => format!("Your {product} password was changed"),
            Self::PasswordReset => format!("Your {product} password was reset"),
        }
    }
}

/// A mail ready to compose.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    /// The outbox row's id (the Message-ID's left part).
    pub(crate) id: &'a str,
    pub(crate) kind: Kind,
    /// The recipient's address.
    pub(crate) to: &'a str,
    /// The recipient's display name.
    pub(crate) name: Option<&'a str>,
    /// The new address, for an email change.
    pub(crate) new_email: Option<&'a str>,
    /// The link's token, for the kinds with a link.
    pub(crate) token: Option<&'a str>,
    /// Now, the mail's `Date`.
    pub(crate) now: u64,
}

/// Why a mail was not delivered.
#[derive(Debug)]
pub(crate) struct SendError {
    /// Worth another attempt (a refused connection, a 4xx); false for what
    /// can never succeed (a 5xx, an unusable header value).
    pub(crate) transient: bool,
    /// What happened, without addresses or secrets.
    pub(crate) reason: String,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl SendError {
    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            transient: false,
            reason: reason.into(),
        }
    }
}

/// Where mail goes.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Composes and delivers mails, and renders the link pages.
pub(crate) struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
    product: String,
    /// The Message-ID's right part: the public URL's host.
    domain: String,
    templates: Environment<'static>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// A header value, refused when it holds CR or LF.
fn header(value: &str) -> Result<&str, SendError> {
    if value.contains(['\r', '\n']) {
        Err(SendError::permanent("a header value holds CR or LF"))
    } else {
        Ok(value)
    }
}

impl Mailer {
    /// The mailer the settings describe. The SMTP transport connects only
    /// when it first sends.
    pub(crate) fn new(settings: &MailSettings) -> Result<Self, String> {
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
                    .map_err(|e| format!("EDGEAUTH_SMTP_URL ({url}): {e}"))?
                    .timeout(Some(Duration::from_secs(settings.smtp_timeout)))
                    .build(),
            ),
            None => Transport::Files(settings.outbox_dir.clone()),
        };
        let from = header(&settings.from)
            .map_err(|e| format!("EDGEAUTH_MAIL_FROM: {e}"))?
            .parse::<Mailbox>()
            .map_err(|e| format!("EDGEAUTH_MAIL_FROM: {e}"))?;
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates
                .add_template(name, source)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        let domain = settings
            .public_url
            .split_once("://")
            .map_or("localhost", |(_, rest)| {
                rest.split(['/', ':']).next().unwrap_or("localhost")
            })
            .to_owned();
        Ok(Self {
            transport,
            from,
            public_url: settings.public_url.clone(),
            product: settings.product_name.clone(),
            domain,
            templates,
        })
    }

    /// Renders a page template (`pages/NAME.html`) with the product name
    /// added to `values`.
    pub(crate) fn page(&self, name: &str, values: Value) -> Result<String, String> {
        let ctx = context! { product => self.product.clone(), ..values };
        self.templates
            .get_template(&format!("pages/{name}.html"))
            .and_then(|t| t.render(ctx))
            .map_err(|e| format!("page {name}: {e}"))
    }

    /// Composes a mail: `From`, `To` (address and name), the subject, a
    /// Message-ID of the outbox row's id (so a duplicate is recognisable),
    /// and plain-text and HTML parts from the templates.
    pub(crate) fn compose(&self, mail: &Outgoing<'_>) -> Result<Message, SendError> {
        let address: Address = header(mail.to)?
            .parse()
            .map_err(|_| SendError::permanent("the recipient is not a valid address"))?;
        let name = mail.name.map(header).transpose()?;
        let to = Mailbox::new(name.map(str::to_owned), address);
        let subject = mail.kind.subject(&self.product);
        let link = match (mail.kind.link(), mail.token) {
            (Some((path, _)), Some(token)) => {
                Some(format!("{}{path}?token={token}", self.public_url))
            }
            _ => None,
        };
        let ttl = mail.kind.link().map(|(_, ttl)| human_duration(ttl));
        let ctx = context! {
            product => self.product.clone(),
            subject => subject.clone(),
            email => mail.to,
            name => mail.name,
            new_email => mail.new_email,
            link => link,
            ttl => ttl,
            public_url => self.public_url.clone(),
        };
        let render = |ext: &str| {
            self.templates
                .get_template(&format!("mail/{}.{ext}", mail.kind.name()))
                .and_then(|t| t.render(&ctx))
                .map_err(|e| SendError::permanent(format!("template: {e}")))
        };
        let (text, html) = (render("txt")?, render("html")?);
        Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.id, self.domain)))
            .date(std::time::UNIX_EPOCH + Duration::from_secs(mail.now))
            .from(self.from.clone())
            .to(to)
            .subject(header(&subject)?)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| SendError::permanent(format!("composing: {e}")))
    }

    /// Delivers a composed mail: to the SMTP server, or as `ID.eml` in the
    /// outbox folder (a second delivery of the same mail overwrites it).
    pub(crate) async fn deliver(&self, id: &str, message: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| SendError {
                transient: !e.is_permanent(),
                reason: smtp_reason(&e),
            }),
            Transport::Files(dir) => {
                let path = dir.join(format!("{id}.eml"));
                let io = |e: std::io::Error| SendError {
                    transient: true,
                    reason: format!("writing {}: {e}", path.display()),
                };
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(io)?;
                tracing::info!(mail_id = %id, path = %path.display(), "mail written (no EDGEAUTH_SMTP_URL)");
                Ok(())
            }
        }
    }
}

/// An SMTP error, said without the server's words (which may echo an
/// address): its class and status code.
fn smtp_reason(e: &lettre::transport::smtp::Error) -> String {
    let class = if e.is_permanent() {
        "permanent"
    } else if e.is_transient() {
        "transient"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "tls"
    } else {
        "connection"
    };
    match e.status() {
        Some(code) => format!("smtp {class} error {code}"),
        None => format!("smtp {class} error"),
    }
}

/// `24 hours`, `1 hour`, `15 minutes`.
fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 && s / 3600 == 1 => "1 hour".into(),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s => format!("{} minutes", s / 60),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::config::Config;

    fn mailer() -> Mailer {
        let config = Config::from_sources(
            [
                (
                    "EDGEAUTH_PUBLIC_URL".to_owned(),
                    "https://auth.example".to_owned(),
                ),
                ("EDGEAUTH_PRODUCT_NAME".to_owned(), "Example".to_owned()),
            ],
            None,
        )
        .unwrap();
        Mailer::new(&config.mail).unwrap()
    }

    fn outgoing<'a>(kind: Kind, to: &'a str, name: Option<&'a str>) -> Outgoing<'a> {
        Outgoing {
            id: "0b6f",
            kind,
            to,
            name,
            new_email: Some("new@example.com"),
            token: Some("TOKEN"),
            now: 1_800_000_000,
        }
    }

    #[test]
    fn every_kind_renders_with_its_link_and_the_product_name() {
        let m = mailer();
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            let message = m
                .compose(&outgoing(kind, "ann@example.com", Some("Ann")))
                .unwrap();
            // Undo quoted-printable's soft breaks and `=` escapes.
            let text = String::from_utf8(message.formatted())
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=");
            assert!(text.contains("Message-ID: <0b6f@auth.example>"), "{text}");
            assert!(text.contains("Example"), "{kind:?}");
            if let Some((path, _)) = kind.link() {
                let link = format!("https://auth.example{path}?token=TOKEN");
                assert!(text.contains(&link), "{kind:?}: {text}");
            }
        }
    }

    #[test]
    fn line_breaks_in_header_values_are_refused() {
        let m = mailer();
        for (to, name) in [
            ("ann@example.com\r\nBcc: eve@example.com", None),
            ("ann@example.com", Some("Ann\r\nBcc: eve@example.com")),
            ("ann@example.com", Some("Ann\nX: y")),
        ] {
            let e = m.compose(&outgoing(Kind::Verify, to, name)).unwrap_err();
            assert!(!e.transient, "{e}");
        }
    }

    #[test]
    fn pages_escape_what_they_show() {
        let html = mailer()
            .page(
                "result",
                context! { title => "t", message => "<script>x</script>", ok => false },
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
    }
}
