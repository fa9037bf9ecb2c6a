//! The email flows (docs/server-api.md, "Email flows"): verification,
//! password reset and change, magic links, email change and account
//! deletion, as logic over the store.
//!
//! A request never sends mail: it queues an outbox row, committed in the
//! same transaction as its cause, and the sender (`outbox.rs`) mints the
//! link when it sends. So forgot-password and magic-link requests do the
//! same work whether the address is known or not (one insert of the
//! address as typed, normalised); only the sender, later and out of band,
//! finds out and drops a mail to an unknown address.
//!
//! Links are 32 random bytes, base64url; the store keys them by SHA-256,
//! so a lookup compares hashes in an index, never the secret itself.

use core::net::IpAddr;

use serde_json::json;

use super::{
    Accounts, AuthError, Sessions, TokenPair,
    audit::{self, AuditContext, EventType},
    mailer::Kind,
    normalize,
};
use crate::{
    secret::{SecretString, b64_array, random, sha256},
    store::{AuditEvent, NewMail, Spent, Store, StoreError, TokenEffect, User},
};

/// The `amr` of a magic-link sign-in: proof of control of the mailbox
/// (RFC 8176 has no mailbox value; `email` is this server's, and the
/// contract's).
pub(crate) const AMR_EMAIL: &str = "email";

/// A link's token as presented: 32 bytes, or nothing valid.
fn token_hash(token: &str) -> Result<[u8; 32], AuthError> {
    b64_array::<32>(token.trim())
        .map(|raw| sha256(&raw))
        .ok_or(AuthError::InvalidMailToken)
}

/// A new outbox row.
fn mail(
    kind: Kind,
    user_id: Option<&str>,
    recipient: &str,
    new_email: Option<&str>,
    now: u64,
) -> Result<NewMail, AuthError> {
    Ok(NewMail {
        id: uuid::Builder::from_random_bytes(random()?)
            .into_uuid()
            .to_string(),
        kind: kind.name().to_owned(),
        user_id: user_id.map(str::to_owned),
        recipient: recipient.to_owned(),
        new_email: new_email.map(str::to_owned),
        created_at: now,
    })
}

/// What spending a link came to, as the flow's answer.
fn spent(result: Result<Spent, StoreError>) -> Result<(String, Vec<String>), AuthError> {
    match result {
        Ok(Spent::Done {
            user_id, revoked, ..
        }) => Ok((user_id, revoked)),
        Ok(Spent::Invalid) => Err(AuthError::InvalidMailToken),
        Ok(Spent::Expired) => Err(AuthError::MailTokenExpired),
        Err(StoreError::Conflict) => Err(AuthError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// A verification link to the user's address, to queue.
pub(crate) fn verification_mail(user: &User, now: u64) -> Result<NewMail, AuthError> {
    mail(Kind::Verify, Some(&user.id), &user.email, None, now)
}

/// Queues a verification link to the user's address.
pub(crate) async fn send_verification(
    store: &dyn Store,
    user: &User,
    now: u64,
) -> Result<(), AuthError> {
    Ok(store.queue_mail(&[verification_mail(user, now)?]).await?)
}

/// Queues a mail of `kind` (a reset or a magic link) to whatever account
/// has `email`: the same work for a known and an unknown address.
pub(crate) async fn request_by_address(
    store: &dyn Store,
    kind: Kind,
    email: &str,
    now: u64,
) -> Result<(), AuthError> {
    let email = normalize::email(email)?;
    let request = mail(kind, None, &email, None, now)?;
    Ok(store.queue_mail(&[request]).await?)
}

/// Spends a verification link: the address is verified
/// (`email.verified`, in the same transaction).
pub(crate) async fn verify(
    store: &dyn Store,
    token: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let hash = token_hash(token)?;
    let effect = TokenEffect::Verify;
    spend_recorded(
        store,
        &hash,
        Kind::Verify,
        effect,
        EventType::EmailVerified,
        ctx,
        now,
    )
    .await?;
    Ok(())
}

/// Spends a link of `kind` with `effect` and its audit event of `recorded`
/// in one transaction, then logs the event; the link's user and the
/// sessions the effect revoked.
async fn spend_recorded(
    store: &dyn Store,
    hash: &[u8; 32],
    kind: Kind,
    effect: TokenEffect<'_>,
    recorded: EventType,
    ctx: &AuditContext,
    now: u64,
) -> Result<(String, Vec<String>), AuthError> {
    let event = ctx.event(recorded, None, json!({}), now)?;
    let (user_id, revoked) = spent(
        store
            .spend_mail_token(hash, kind.name(), now, effect, Some(&event))
            .await,
    )?;
    log_for(event, &user_id);
    Ok((user_id, revoked))
}

/// Logs a committed event whose actor and target the store filled in with
/// the link's user.
fn log_for(mut event: AuditEvent, user_id: &str) {
    if event.actor.is_empty() {
        user_id.clone_into(&mut event.actor);
    }
    event.target = Some(user_id.to_owned());
    audit::log(&event);
}

/// Spends a reset link: the new password (checked against the policy)
/// replaces the old one, every session of the user is revoked (and so
/// listed in the revocation feed), and a notice is queued.
pub(crate) async fn reset_password(
    store: &dyn Store,
    accounts: &Accounts,
    sessions: &Sessions,
    token: &str,
    password: &SecretString,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let hash = token_hash(token)?;
    // Checked before the argon2 work, and again when spent.
    let record = store
        .mail_token(&hash)
        .await?
        .ok_or(AuthError::InvalidMailToken)?;
    if record.purpose != Kind::Reset.name() || record.used_at.is_some() {
        return Err(AuthError::InvalidMailToken);
    }
    if record.expires_at <= now {
        return Err(AuthError::MailTokenExpired);
    }
    let password_hash = accounts.new_password_hash(password, &record.email).await?;
    let notice = mail(
        Kind::PasswordReset,
        Some(&record.user_id),
        &record.email,
        None,
        now,
    )?;
    let effect = TokenEffect::Reset {
        password_hash: &password_hash,
        notice: &notice,
    };
    let (_, revoked) = spend_recorded(
        store,
        &hash,
        Kind::Reset,
        effect,
        EventType::PasswordReset,
        ctx,
        now,
    )
    .await?;
    sessions.forget(&revoked);
    Ok(())
}

/// Changes the password of a signed-in user who knows the current one;
/// every other session of the user is revoked, and a notice is queued.
#[allow(clippy::too_many_arguments, reason = "one request's inputs")]
pub(crate) async fn change_password(
    store: &dyn Store,
    accounts: &Accounts,
    sessions: &Sessions,
    user: &User,
    current_session: &str,
    current: &SecretString,
    new: &SecretString,
    client: IpAddr,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let ctx = ctx.acted_by(&user.id);
    accounts
        .check_password(&user.email, current, client, &ctx, now)
        .await?;
    let password_hash = accounts.new_password_hash(new, &user.email).await?;
    let event = ctx.event(EventType::PasswordChanged, Some(&user.id), json!({}), now)?;
    let notice = mail(
        Kind::PasswordChanged,
        Some(&user.id),
        &user.email,
        None,
        now,
    )?;
    let revoked = store
        .change_password(
            &user.id,
            &password_hash,
            current_session,
            now,
            &notice,
            &event,
        )
        .await?;
    audit::log(&event);
    sessions.forget(&revoked);
    Ok(())
}

/// Spends a magic link and signs the user in with `amr` `["email"]`; the
/// address counts as verified.
pub(crate) async fn magic_sign_in(
    store: &dyn Store,
    sessions: &Sessions,
    token: &str,
    user_agent: Option<String>,
    ctx: &AuditContext,
    now: u64,
) -> Result<TokenPair, AuthError> {
    let hash = token_hash(token)?;
    let (user_id, _) = spent(
        store
            .spend_mail_token(
                &hash,
                Kind::MagicLink.name(),
                now,
                TokenEffect::SignIn,
                None,
            )
            .await,
    )?;
    let amr = vec![AMR_EMAIL.to_owned()];
    let event = ctx.acted_by(&user_id).event(
        EventType::LoginSucceeded,
        Some(&user_id),
        json!({ "amr": amr }),
        now,
    )?;
    let pair = sessions
        .sign_in_audited(&user_id, user_agent, amr, Some(event.clone()), now)
        .await?;
    audit::log(&event);
    Ok(pair)
}

/// Asks to move a signed-in user's account to `new_email` (the password
/// is checked): a confirmation link to the new address and a notice to
/// the old one, queued together.
#[allow(clippy::too_many_arguments, reason = "one request's inputs")]
pub(crate) async fn request_email_change(
    store: &dyn Store,
    accounts: &Accounts,
    user: &User,
    new_email: &str,
    password: &SecretString,
    client: IpAddr,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let new_email = normalize::email(new_email)?;
    accounts
        .check_password(&user.email, password, client, &ctx.acted_by(&user.id), now)
        .await?;
    if new_email == user.email {
        return Err(AuthError::InvalidEmail);
    }
    if store.user_by_email(&new_email).await?.is_some() {
        return Err(AuthError::EmailTaken);
    }
    let link = mail(
        Kind::EmailChange,
        Some(&user.id),
        &new_email,
        Some(&new_email),
        now,
    )?;
    let notice = mail(
        Kind::EmailChangeNotice,
        Some(&user.id),
        &user.email,
        Some(&new_email),
        now,
    )?;
    Ok(store.queue_mail(&[link, notice]).await?)
}

/// Spends an email-change link: the account takes the new address,
/// verified. `EmailTaken` if another account took it meanwhile.
pub(crate) async fn confirm_email_change(
    store: &dyn Store,
    sessions: &Sessions,
    token: &str,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let hash = token_hash(token)?;
    let effect = TokenEffect::ChangeEmail;
    let (user_id, _) = spend_recorded(
        store,
        &hash,
        Kind::EmailChange,
        effect,
        EventType::EmailChanged,
        ctx,
        now,
    )
    .await?;
    // Cached sessions carry the user as it was: forget them.
    let live: Vec<String> = store
        .user_sessions(&user_id, now)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    sessions.forget(&live);
    Ok(())
}

/// Deletes a signed-in user's account (the password is checked), with its
/// sessions, links and queued mails.
#[allow(clippy::too_many_arguments, reason = "one request's inputs")]
pub(crate) async fn delete_account(
    store: &dyn Store,
    accounts: &Accounts,
    sessions: &Sessions,
    user: &User,
    password: &SecretString,
    client: IpAddr,
    ctx: &AuditContext,
    now: u64,
) -> Result<(), AuthError> {
    let ctx = ctx.acted_by(&user.id);
    accounts
        .check_password(&user.email, password, client, &ctx, now)
        .await?;
    let event = ctx.event(EventType::UserDeleted, Some(&user.id), json!({}), now)?;
    let revoked = store.delete_user(&user.id, now, &event).await?;
    audit::log(&event);
    sessions.forget(&revoked);
    Ok(())
}
