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

/// The one implementation of [`EmailStore`], for a store type whose
/// `$reader` and `$writer` pools run `$db` (SQLite takes PostgreSQL's
/// numbered parameters too). `$lock_token` locks a spent link while its
/// effect applies and `$skip_locked` lets concurrent claims take disjoint
/// rows (PostgreSQL's `FOR UPDATE` clauses; SQLite, with one writer,
/// needs neither).
macro_rules! email_store {
    ($store:ty, $db:ty, $reader:ident, $writer:ident, $lock_token:literal, $skip_locked:literal) => {
        use async_trait::async_trait;
        use sqlx::Transaction;

        use super::admin::insert_event;
        use super::commit;
        use crate::store::{
            AuditEvent, EmailStore, MailOutcome, MailTokenRecord, NewMail, NewMailToken, QueuedMail, Spent,
            StoreError, TokenEffect,
            email::{outcome_columns, queued_from, token_from},
            rows::{backend, db_time},
        };

        async fn insert_mail(
            tx: &mut Transaction<'static, $db>,
            mail: &NewMail,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO mail_outbox (id, kind, user_id, recipient, new_email, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&mail.id)
            .bind(&mail.kind)
            .bind(&mail.user_id)
            .bind(&mail.recipient)
            .bind(&mail.new_email)
            .bind(db_time(mail.created_at))
            .bind(db_time(mail.created_at))
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            Ok(())
        }

        /// Revokes the user's live sessions but `keep`; their ids.
        async fn revoke_all(
            tx: &mut Transaction<'static, $db>,
            user_id: &str,
            keep: &str,
            now: u64,
        ) -> Result<Vec<String>, StoreError> {
            sqlx::query_scalar(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 \
                 AND revoked_at IS NULL AND expires_at > $4 RETURNING id",
            )
            .bind(db_time(now))
            .bind(user_id)
            .bind(keep)
            .bind(db_time(now))
            .fetch_all(&mut **tx)
            .await
            .map_err(backend)
        }

        #[async_trait]
        impl EmailStore for $store {
            async fn email_verified_at(&self, user_id: &str) -> Result<Option<u64>, StoreError> {
                let at: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT email_verified_at FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&self.$reader)
                        .await
                        .map_err(backend)?;
                Ok(at.flatten().map(crate::store::rows::from_db_time))
            }

            async fn queue_mail(&self, mails: &[NewMail]) -> Result<(), StoreError> {
                let mut tx = self.begin().await?;
                for mail in mails {
                    insert_mail(&mut tx, mail).await?;
                }
                commit(tx).await
            }

            async fn mail_token(&self, hash: &[u8; 32]) -> Result<Option<MailTokenRecord>, StoreError> {
                sqlx::query(
                    "SELECT purpose, user_id, email, expires_at, used_at FROM mail_tokens WHERE token_hash = $1",
                )
                .bind(&hash[..])
                .fetch_optional(&self.$reader)
                .await
                .map_err(backend)?
                .as_ref()
                .map(token_from)
                .transpose()
            }

            async fn spend_mail_token(
                &self,
                hash: &[u8; 32],
                purpose: &str,
                now: u64,
                effect: TokenEffect<'_>,
                event: Option<&AuditEvent>,
            ) -> Result<Spent, StoreError> {
                let mut tx = self.begin().await?;
                let record = sqlx::query(concat!(
                    "SELECT t.purpose, t.user_id, t.email, t.expires_at, t.used_at, u.email AS current \
                     FROM mail_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                    $lock_token
                ))
                .bind(&hash[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
                let Some(row) = record else {
                    return Ok(Spent::Invalid);
                };
                let token = token_from(&row)?;
                let current: String = sqlx::Row::try_get(&row, "current").map_err(backend)?;
                if let Some(early) = token.refuse(purpose, &current, effect, now) {
                    return Ok(early);
                }
                let spent = sqlx::query(
                    "UPDATE mail_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                )
                .bind(db_time(now))
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                if spent.rows_affected() != 1 {
                    return Ok(Spent::Invalid);
                }
                let mut revoked = Vec::new();
                match effect {
                    TokenEffect::Verify | TokenEffect::SignIn => {
                        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
                            .bind(db_time(now))
                            .bind(&token.user_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                    TokenEffect::Reset {
                        password_hash,
                        notice,
                    } => {
                        sqlx::query(
                            "UPDATE users SET password_hash = $1, email_verified_at = $2 WHERE id = $3",
                        )
                        .bind(password_hash)
                        .bind(db_time(now))
                        .bind(&token.user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                        revoked = revoke_all(&mut tx, &token.user_id, "", now).await?;
                        insert_mail(&mut tx, notice).await?;
                    }
                    TokenEffect::ChangeEmail => {
                        sqlx::query("UPDATE users SET email = $1, email_verified_at = $2 WHERE id = $3")
                            .bind(&token.email)
                            .bind(db_time(now))
                            .bind(&token.user_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                }
                if let Some(event) = event {
                    let mut event = event.clone();
                    if event.actor.is_empty() {
                        event.actor.clone_from(&token.user_id);
                    }
                    event.target = Some(token.user_id.clone());
                    insert_event(&mut tx, &event).await?;
                }
                commit(tx).await?;
                Ok(Spent::Done {
                    user_id: token.user_id,
                    email: token.email,
                    revoked,
                })
            }

            async fn change_password(
                &self,
                user_id: &str,
                password_hash: &str,
                keep: &str,
                now: u64,
                notice: &NewMail,
                event: &AuditEvent,
            ) -> Result<Vec<String>, StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                let revoked = revoke_all(&mut tx, user_id, keep, now).await?;
                insert_mail(&mut tx, notice).await?;
                insert_event(&mut tx, event).await?;
                commit(tx).await?;
                Ok(revoked)
            }

            async fn delete_user(
                &self,
                user_id: &str,
                now: u64,
                event: &AuditEvent,
            ) -> Result<Vec<String>, StoreError> {
                let mut tx = self.begin().await?;
                let live = revoke_all(&mut tx, user_id, "", now).await?;
                sqlx::query(
                    "INSERT INTO session_tombstones (session_id, revoked_at) \
                     SELECT id, revoked_at FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL \
                     ON CONFLICT (session_id) DO NOTHING",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                sqlx::query("DELETE FROM mail_outbox WHERE user_id = $1 AND state = 'pending'")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                // Sessions, refresh tokens, roles and links go by ON DELETE CASCADE.
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                insert_event(&mut tx, event).await?;
                commit(tx).await?;
                Ok(live)
            }

            async fn claim_mail(
                &self,
                owner: &str,
                now: u64,
                lease_until: u64,
                limit: u32,
            ) -> Result<Vec<QueuedMail>, StoreError> {
                let rows = sqlx::query(concat!(
                    "UPDATE mail_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM mail_outbox WHERE state = 'pending' \
                       AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $4) \
                       ORDER BY next_attempt_at, created_at LIMIT $5",
                    $skip_locked,
                    ") RETURNING id, kind, user_id, recipient, new_email, attempts"
                ))
                .bind(owner)
                .bind(db_time(lease_until))
                .bind(db_time(now))
                .bind(db_time(now))
                .bind(i64::from(limit))
                .fetch_all(&self.$writer)
                .await
                .map_err(backend)?;
                rows.iter().map(queued_from).collect()
            }

            async fn issue_mail_token(&self, token: &NewMailToken) -> Result<(), StoreError> {
                let mut tx = self.begin().await?;
                sqlx::query("DELETE FROM mail_tokens WHERE outbox_id = $1 AND used_at IS NULL")
                    .bind(&token.outbox_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                sqlx::query(
                    "INSERT INTO mail_tokens (token_hash, purpose, user_id, email, outbox_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&token.hash[..])
                .bind(token.purpose)
                .bind(&token.user_id)
                .bind(&token.email)
                .bind(&token.outbox_id)
                .bind(db_time(token.created_at))
                .bind(db_time(token.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                commit(tx).await
            }

            async fn finish_mail(
                &self,
                id: &str,
                owner: &str,
                now: u64,
                outcome: &MailOutcome,
            ) -> Result<bool, StoreError> {
                let (state, next, error) = outcome_columns(outcome);
                let done = sqlx::query(
                    "UPDATE mail_outbox SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
                     last_error = $3, finished_at = CASE WHEN $4 = 'pending' THEN NULL ELSE $5 END, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = $6 AND lease_owner = $7 AND state = 'pending'",
                )
                .bind(state)
                .bind(next.map(db_time))
                .bind(error)
                .bind(state)
                .bind(db_time(now))
                .bind(id)
                .bind(owner)
                .execute(&self.$writer)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_mail(&self, before: u64) -> Result<u64, StoreError> {
                let mut tx = self.begin().await?;
                let mails =
                    sqlx::query("DELETE FROM mail_outbox WHERE state <> 'pending' AND finished_at < $1")
                        .bind(db_time(before))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                let tokens = sqlx::query("DELETE FROM mail_tokens WHERE expires_at < $1")
                    .bind(db_time(before))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                commit(tx).await?;
                Ok(mails.rows_affected() + tokens.rows_affected())
            }
        }
    };
}

pub(super) use email_store;
