//! The outbox sender: the background task that delivers queued mail.
//!
//! It claims due rows with a lease (`MAIL_LEASE` = twice `SMTP_TIMEOUT`),
//! mints each mail's link, composes and sends it, and finishes the row
//! while it still holds the lease: `sent`; pending again after an
//! exponential backoff (`MAIL_RETRY_BASE`, doubling, at most an hour);
//! `failed` after `MAIL_MAX_ATTEMPTS` or a permanent refusal; `dropped`
//! when there is nothing to send (an unknown address).
//!
//! Delivery guarantee. A claimed row is leased to one sender, so two
//! instances never send it at once (PostgreSQL claims with `FOR UPDATE
//! SKIP LOCKED`; SQLite has one writer), and a row is finished only by its
//! lease holder, right after the mail server accepted the mail. A sender
//! that dies (kill -9, power loss) leaves its rows leased: after the lease
//! they are sent again, so a mail is never lost. The one window for a
//! duplicate is a crash after the mail server accepted a mail and before
//! the row was marked sent (one database write): then that mail goes out
//! twice, with the same Message-ID (the outbox row's id), so the receiving
//! side can tell. Nothing else resends a mail: this is at-least-once with
//! that window, never at-most-once. A resent link mail carries a new link
//! and the earlier unused one is deleted.

use core::time::Duration;
use std::sync::Arc;

use tokio::{sync::Notify, task::JoinSet};

use super::{
    AuthError,
    mailer::{Kind, Mailer, Outgoing, SendError},
};
use crate::{
    clock::Clock,
    config::MailSettings,
    secret::{SecretString, b64, random, sha256},
    store::{MailOutcome, NewMailToken, QueuedMail, Store},
};

/// Mails claimed at once (and sent concurrently) by one sender.
const BATCH: u32 = 16;
/// How often a sender looks for due mail when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// The longest wait between two attempts of a mail, seconds.
const BACKOFF_CAP: u64 = 3600;
/// How long finished mails and expired links are kept, seconds.
const KEEP_FINISHED: u64 = 7 * 86_400;

/// How many mails one pass finished, by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Accepted by the mail server (or written to a file).
    pub sent: u32,
    /// Failed for now; pending again after a backoff.
    pub retried: u32,
    /// Failed for good.
    pub failed: u32,
    /// Nothing to send (unknown address, address changed).
    pub dropped: u32,
}

/// The sender: the store, the mailer, the clock, and this instance's
/// lease owner id.
pub(crate) struct Outbox {
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
    clock: Arc<dyn Clock>,
    owner: String,
    max_attempts: u32,
    retry_base: u64,
    lease: u64,
    wake: Notify,
}

impl core::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Outbox")
            .field("owner", &self.owner)
            .field("max_attempts", &self.max_attempts)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt {
    Sent,
    Dropped(&'static str),
    NotSent(SendError),
}

impl Outbox {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        mailer: Arc<Mailer>,
        clock: Arc<dyn Clock>,
        settings: &MailSettings,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            store,
            mailer,
            clock,
            owner: uuid::Builder::from_random_bytes(random()?)
                .into_uuid()
                .to_string(),
            max_attempts: settings.max_attempts,
            retry_base: settings.retry_base,
            lease: settings.lease(),
            wake: Notify::new(),
        })
    }

    /// Tells the sender that mail was queued.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends every mail due now, batch after batch, until none is left.
    pub(crate) async fn deliver_due(self: &Arc<Self>) -> Result<Delivered, AuthError> {
        let mut total = Delivered::default();
        loop {
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_mail(&self.owner, now, now.saturating_add(self.lease), BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(total);
            }
            let mut sending = JoinSet::new();
            for mail in claimed {
                let me = Arc::clone(self);
                sending.spawn(async move { me.deliver(mail).await });
            }
            while let Some(done) = sending.join_next().await {
                match done {
                    Ok(Ok(outcome)) => match outcome {
                        MailOutcome::Sent => total.sent += 1,
                        MailOutcome::Retry { .. } => total.retried += 1,
                        MailOutcome::Failed { .. } => total.failed += 1,
                        MailOutcome::Dropped => total.dropped += 1,
                    },
                    // The row keeps its lease and is tried again after it.
                    Ok(Err(e)) => tracing::error!(error = %e, "sending a mail failed"),
                    Err(e) => tracing::error!(error = %e, "a mail sender task failed"),
                }
            }
        }
    }

    /// Sends due mail whenever woken, and at least every second; once an
    /// hour deletes finished mails and expired links older than a week.
    pub(crate) async fn run(self: Arc<Self>) {
        let mut purged_at = None;
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %e, "the outbox could not be read");
            }
            let now = self.clock.now();
            if purged_at.is_none_or(|at: u64| now >= at.saturating_add(3600)) {
                purged_at = Some(now);
                match self
                    .store
                    .purge_mail(now.saturating_sub(KEEP_FINISHED))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "purged finished mails and expired links"),
                    Err(e) => tracing::error!(error = %e, "purging the outbox failed"),
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One claimed mail: attempt it, then finish its row under the lease.
    async fn deliver(&self, mail: QueuedMail) -> Result<MailOutcome, AuthError> {
        let now = self.clock.now();
        let outcome = match self.attempt(&mail, now).await? {
            Attempt::Sent => MailOutcome::Sent,
            Attempt::Dropped(why) => {
                tracing::info!(mail_id = %mail.id, kind = %mail.kind, why, "mail dropped");
                MailOutcome::Dropped
            }
            Attempt::NotSent(e) if e.transient && mail.attempts < self.max_attempts => {
                let wait = backoff(self.retry_base, mail.attempts);
                tracing::warn!(mail_id = %mail.id, attempt = mail.attempts, retry_in_s = wait, error = %e, "mail not sent; will retry");
                MailOutcome::Retry {
                    at: now.saturating_add(wait),
                    error: e.reason,
                }
            }
            Attempt::NotSent(e) => {
                tracing::error!(mail_id = %mail.id, attempt = mail.attempts, error = %e, "mail failed for good");
                MailOutcome::Failed { error: e.reason }
            }
        };
        let finished = self
            .store
            .finish_mail(&mail.id, &self.owner, self.clock.now(), &outcome)
            .await?;
        if !finished {
            tracing::warn!(mail_id = %mail.id, "the lease on a mail ended before it was finished");
        }
        if outcome == MailOutcome::Sent {
            tracing::info!(mail_id = %mail.id, kind = %mail.kind, "mail sent");
        }
        crate::metrics::mail(&outcome);
        Ok(outcome)
    }

    async fn attempt(&self, mail: &QueuedMail, now: u64) -> Result<Attempt, AuthError> {
        let Some(kind) = Kind::parse(&mail.kind) else {
            return Ok(Attempt::NotSent(SendError {
                transient: false,
                reason: format!("unknown mail kind {}", mail.kind),
            }));
        };
        let user = match &mail.user_id {
            Some(id) => self.store.user_by_id(id).await?,
            None => self.store.user_by_email(&mail.recipient).await?,
        };
        let Some(user) = user else {
            return Ok(Attempt::Dropped("no such account"));
        };
        if kind.needs_current_address() && user.email != mail.recipient {
            return Ok(Attempt::Dropped("the account's address changed"));
        }
        let token = match kind.link() {
            Some((_, ttl)) => {
                let raw: [u8; 32] = random()?;
                self.store
                    .issue_mail_token(&NewMailToken {
                        hash: sha256(&raw),
                        purpose: kind.name(),
                        user_id: user.id.clone(),
                        email: mail.recipient.clone(),
                        outbox_id: mail.id.clone(),
                        created_at: now,
                        expires_at: now.saturating_add(ttl),
                    })
                    .await?;
                Some(SecretString::new(b64(&raw)))
            }
            None => None,
        };
        let outgoing = Outgoing {
            id: &mail.id,
            kind,
            to: &mail.recipient,
            name: user.name.as_deref(),
            new_email: mail.new_email.as_deref(),
            token: token.as_ref().map(SecretString::expose),
            now,
        };
        let message = match self.mailer.compose(&outgoing) {
            Ok(message) => message,
            Err(e) => return Ok(Attempt::NotSent(e)),
        };
        Ok(match self.mailer.deliver(&mail.id, message).await {
            Ok(()) => Attempt::Sent,
            Err(e) => Attempt::NotSent(e),
        })
    }
}

/// The wait after attempt `attempts` failed: `base`, doubled per further
/// attempt, at most an hour.
fn backoff(base: u64, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(30, n)).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(1, 100), 3600);
    }
}
