//! Authentication logic over the store, independent of HTTP: accounts,
//! sign-in, token issue and refresh, and administration. Each service owns
//! what it needs; nothing here sees the application state.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod email;
mod error;
pub(crate) mod imported;
pub(crate) mod limiter;
pub(crate) mod mailer;
mod normalize;
pub(crate) mod outbox;
pub(crate) mod password;
pub(crate) mod purge;
pub(crate) mod rates;
pub(crate) mod refresh;
pub(crate) mod revocations;
pub(crate) mod roles;
pub(crate) mod session_cache;
pub(crate) mod sessions;
pub(crate) mod tokens;

use core::net::IpAddr;

use crate::secret::SecretString;

pub(crate) use error::AuthError;

pub(crate) use accounts::Accounts;
pub(crate) use sessions::{Sessions, TokenPair};

/// The `amr` value of a password sign-in (RFC 8176).
pub(crate) const AMR_PASSWORD: &str = "pwd";

/// Signs in with email and password: the credential check, then (when
/// `require_verified`) the verified-address check, which only someone with
/// the password ever reaches, then the shared sign-in tail with `amr`
/// `["pwd"]`; the session and its `login.succeeded` event are written
/// together (a failure's event by the check).
#[allow(clippy::too_many_arguments, reason = "one sign-in's inputs")]
pub(crate) async fn login(
    accounts: &Accounts,
    sessions: &Sessions,
    email: &str,
    password: &SecretString,
    client: IpAddr,
    user_agent: Option<String>,
    ctx: &audit::AuditContext,
    require_verified: bool,
    now: u64,
) -> Result<TokenPair, AuthError> {
    let checked = accounts
        .check_password(email, password, client, ctx, now)
        .await;
    crate::metrics::login(&checked);
    let user = checked?;
    if require_verified && !accounts.email_verified(&user.id).await? {
        return Err(AuthError::EmailNotVerified);
    }
    let amr = vec![AMR_PASSWORD.to_owned()];
    let event = ctx.acted_by(&user.id).event(
        audit::EventType::LoginSucceeded,
        Some(&user.id),
        serde_json::json!({ "amr": amr }),
        now,
    )?;
    let pair = sessions
        .sign_in_audited(&user.id, user_agent, amr, Some(event.clone()), now)
        .await?;
    audit::log(&event);
    Ok(pair)
}
