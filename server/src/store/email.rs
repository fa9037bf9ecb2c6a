//! Email flows: the links sent by mail ([`NewMailToken`], spent with a
//! [`TokenEffect`]), the durable outbox ([`NewMail`], claimed as
//! [`QueuedMail`]), and the account changes that go with them. Every method
//! is one transaction: a request's mail commits with its cause.

use async_trait::async_trait;

use super::{AuditEvent, StoreError, rows::StoreRow};

/// One mail to queue: what to send (`kind`), to whom, and for which user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// UUID; also the mail's Message-ID, so a duplicate is recognisable.
    pub id: String,
    /// What to send (`verify`, `reset`, `magic_link`, `email_change`,
    /// `email_change_notice`, `password_changed`, `password_reset`).
    pub kind: String,
    /// The user, when known at queue time (`None` for a reset or magic link
    /// asked for by address: the sender looks the address up).
    pub user_id: Option<String>,
    /// The normalised address to send to.
    pub recipient: String,
    /// For an email change: the new address.
    pub new_email: Option<String>,
    /// Now.
    pub created_at: u64,
}

/// A mail claimed by a sender, with its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// UUID.
    pub id: String,
    /// What to send.
    pub kind: String,
    /// The user, if queued with one.
    pub user_id: Option<String>,
    /// The address to send to.
    pub recipient: String,
    /// For an email change: the new address.
    pub new_email: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// How a sender finished with a claimed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// The mail server accepted it.
    Sent,
    /// Not sent this time: pending again from `at`.
    Retry {
        /// When it is due again.
        at: u64,
        /// Why it failed (no address or secret in it).
        error: String,
    },
    /// Not sent, and never will be: attempts exhausted.
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
    /// Nothing to send (unknown address, deleted account, address changed).
    Dropped,
}

/// A link to mint for a mail being sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMailToken {
    /// SHA-256 of the link's 32 random bytes.
    pub hash: [u8; 32],
    /// `verify`, `reset`, `magic_link` or `email_change`.
    pub purpose: &'static str,
    /// The user it acts for.
    pub user_id: String,
    /// The address it was sent to (the new one, for an email change).
    pub email: String,
    /// The mail carrying it.
    pub outbox_id: String,
    /// Now.
    pub created_at: u64,
    /// End of validity.
    pub expires_at: u64,
}

/// A stored link, as looked up by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTokenRecord {
    /// Its purpose.
    pub purpose: String,
    /// Its user.
    pub user_id: String,
    /// The address it was sent to.
    pub email: String,
    /// End of validity.
    pub expires_at: u64,
    /// When it was spent, if it was.
    pub used_at: Option<u64>,
}

/// What spending a link does, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEffect<'a> {
    /// Marks the address verified.
    Verify,
    /// Marks the address verified (a magic link proves it too); the caller
    /// then signs the user in.
    SignIn,
    /// Replaces the password hash, marks the address verified, revokes
    /// every session of the user and queues the notice.
    Reset {
        /// The new argon2id PHC string.
        password_hash: &'a str,
        /// The notice that the password was reset.
        notice: &'a NewMail,
    },
    /// Moves the account to the link's address, verified.
    ChangeEmail,
}

/// What spending a link came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spent {
    /// Spent, effect applied: the user, the address, and the sessions the
    /// effect revoked.
    Done {
        /// The link's user.
        user_id: String,
        /// The address the link was sent to.
        email: String,
        /// Sessions revoked (a reset).
        revoked: Vec<String>,
    },
    /// Unknown, already used, for another purpose, or its user's address
    /// is no longer the one it was sent to.
    Invalid,
    /// Past its end of validity.
    Expired,
}

/// Email flows and the outbox.
#[async_trait]
pub trait EmailStore: Send + Sync + 'static {
    /// When the user's current address was verified, if it was.
    async fn email_verified_at(&self, user_id: &str) -> Result<Option<u64>, StoreError>;
    /// Queues mails, in one transaction.
    async fn queue_mail(&self, mails: &[NewMail]) -> Result<(), StoreError>;
    /// A link by the SHA-256 of its value.
    async fn mail_token(&self, hash: &[u8; 32]) -> Result<Option<MailTokenRecord>, StoreError>;
    /// Spends a link of `purpose` at `now` and applies `effect`, in one
    /// transaction: the link is marked used by a conditional update, so of
    /// two requests presenting it, one wins. `Conflict` if the effect
    /// collides with a unique address (an email change to a taken one).
    ///
    /// `event`, when given, is appended in the same transaction once the
    /// link is spent, with the link's user as its target (and as its actor
    /// when it names none).
    async fn spend_mail_token(
        &self,
        hash: &[u8; 32],
        purpose: &str,
        now: u64,
        effect: TokenEffect<'_>,
        event: Option<&AuditEvent>,
    ) -> Result<Spent, StoreError>;
    /// Replaces the password hash, revokes the user's live sessions but
    /// `keep`, queues the notice and appends `event`, in one transaction;
    /// the revoked ids.
    async fn change_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        now: u64,
        notice: &NewMail,
        event: &AuditEvent,
    ) -> Result<Vec<String>, StoreError>;
    /// Deletes the user with its sessions, links and queued mails, first
    /// recording each session as revoked (tombstones, so the revocation
    /// feed keeps listing them), and appends `event`, in one transaction;
    /// the ids of the sessions that were live.
    async fn delete_user(
        &self,
        user_id: &str,
        now: u64,
        event: &AuditEvent,
    ) -> Result<Vec<String>, StoreError>;

    /// Claims up to `limit` pending mails due at `now` whose lease (if any)
    /// has ended: each gets `owner`'s lease until `lease_until` and one
    /// more attempt. On PostgreSQL, concurrent claims skip each other's
    /// rows (`FOR UPDATE SKIP LOCKED`); SQLite serialises writers.
    async fn claim_mail(
        &self,
        owner: &str,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError>;
    /// Mints the link for a mail being sent, first deleting the unused
    /// link an earlier attempt of the same mail minted.
    async fn issue_mail_token(&self, token: &NewMailToken) -> Result<(), StoreError>;
    /// Finishes a claimed mail, only while `owner` holds its lease; false
    /// when the lease was lost.
    async fn finish_mail(
        &self,
        id: &str,
        owner: &str,
        now: u64,
        outcome: &MailOutcome,
    ) -> Result<bool, StoreError>;
    /// Deletes finished mails finished before `before`, and links that
    /// expired before it; how many rows went.
    async fn purge_mail(&self, before: u64) -> Result<u64, StoreError>;
}

impl MailTokenRecord {
    /// Why the link cannot be spent for `purpose` now, if it cannot:
    /// another purpose, used, expired, or (but for an email change, whose
    /// link names the new address) sent to an address the account no
    /// longer has.
    pub(super) fn refuse(
        &self,
        purpose: &str,
        current_email: &str,
        effect: TokenEffect<'_>,
        now: u64,
    ) -> Option<Spent> {
        let moved = !matches!(effect, TokenEffect::ChangeEmail) && self.email != current_email;
        if self.purpose != purpose || self.used_at.is_some() || moved {
            Some(Spent::Invalid)
        } else if self.expires_at <= now {
            Some(Spent::Expired)
        } else {
            None
        }
    }
}

/// A link row (`purpose`, `user_id`, `email`, `expires_at`, `used_at`).
pub(super) fn token_from(row: &impl StoreRow) -> Result<MailTokenRecord, StoreError> {
    Ok(MailTokenRecord {
        purpose: row.text("purpose")?,
        user_id: row.text("user_id")?,
        email: row.text("email")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

/// A claimed outbox row.
pub(super) fn queued_from(row: &impl StoreRow) -> Result<QueuedMail, StoreError> {
    Ok(QueuedMail {
        id: row.text("id")?,
        kind: row.text("kind")?,
        user_id: row.opt_text("user_id")?,
        recipient: row.text("recipient")?,
        new_email: row.opt_text("new_email")?,
        attempts: u32::try_from(row.time("attempts")?).unwrap_or(u32::MAX),
    })
}

/// An outcome as the outbox row's new `state`, `next_attempt_at` (if it
/// changes) and `last_error`.
pub(super) fn outcome_columns(outcome: &MailOutcome) -> (&'static str, Option<u64>, Option<&str>) {
    match outcome {
        MailOutcome::Sent => ("sent", None, None),
        MailOutcome::Retry { at, error } => ("pending", Some(*at), Some(error)),
        MailOutcome::Failed { error } => ("failed", None, Some(error)),
        MailOutcome::Dropped => ("dropped", None, None),
    }
}
