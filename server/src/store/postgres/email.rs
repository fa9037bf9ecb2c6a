//! Email flows and the outbox on PostgreSQL. Claims lock the rows they
//! take with `FOR UPDATE SKIP LOCKED`, so instances claiming at once take
//! disjoint rows; a spent link is locked (`FOR UPDATE`) while its effect
//! applies.

use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

use super::admin::insert_event;
use super::{PgStore, commit};
use crate::store::{
    AuditEvent, EmailStore, MailOutcome, MailTokenRecord, NewMail, NewMailToken, QueuedMail, Spent,
    StoreError, TokenEffect,
    email::{outcome_columns, queued_from, token_from},
    rows::{backend, db_time},
};

async fn insert_mail(
    tx: &mut Transaction<'static, Postgres>,
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
    tx: &mut Transaction<'static, Postgres>,
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
impl EmailStore for PgStore {
    async fn email_verified_at(&self, user_id: &str) -> Result<Option<u64>, StoreError> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT email_verified_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
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
        .fetch_optional(&self.pool)
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
        let record = sqlx::query(
            "SELECT t.purpose, t.user_id, t.email, t.expires_at, t.used_at, u.email AS current \
             FROM mail_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 FOR UPDATE OF t",
        )
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
        let rows = sqlx::query(
            "UPDATE mail_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM mail_outbox WHERE state = 'pending' \
               AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $4) \
               ORDER BY next_attempt_at, created_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, user_id, recipient, new_email, attempts",
        )
        .bind(owner)
        .bind(db_time(lease_until))
        .bind(db_time(now))
        .bind(db_time(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        .execute(&self.pool)
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
