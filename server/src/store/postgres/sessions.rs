//! Sessions and refresh tokens on PostgreSQL: a sign-in and a rotation are
//! one statement each, of data-modifying CTEs.

use async_trait::async_trait;
use sqlx::Row;

use super::{PgStore, commit};
use crate::store::{
    NewSession, RefreshRecord, RotateOutcome, Rotation, Session, SessionStore, StoreError, User,
    rows::{
        StoreRow as _, amr_to_db, backend, db_time, session_columns, session_from,
        session_with_user_from,
    },
};

/// One rotation, one statement. `live` locks the session row (waiting for
/// a concurrent rotation or revocation of the family to commit, then
/// re-checking it is still live); `parent` marks the token used only if it
/// is unused, re-checked on its latest version; `child` and `slid` happen
/// only if `parent` did. Returns the slid session and the user's roles, or
/// no row and no write.
const ROTATE: &str = "WITH live AS ( \
       SELECT s.id FROM sessions s \
       WHERE s.id = (SELECT t.session_id FROM refresh_tokens t WHERE t.token_hash = $2) \
         AND s.revoked_at IS NULL AND s.expires_at > $3 \
       FOR NO KEY UPDATE \
     ), parent AS ( \
       UPDATE refresh_tokens SET used_at = $3 \
       WHERE token_hash = $2 AND used_at IS NULL AND session_id = (SELECT id FROM live) \
         AND (SELECT count(*) FROM refresh_tokens c \
              WHERE c.session_id = (SELECT id FROM live) AND c.created_at > $5) < $6 \
       RETURNING session_id, generation \
     ), child AS ( \
       INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at, used_at) \
       SELECT $1, session_id, generation + 1, $3, NULL FROM parent \
       RETURNING session_id \
     ), slid AS ( \
       UPDATE sessions s SET last_used_at = $3, expires_at = LEAST($4, s.absolute_expires_at) \
       WHERE s.id = (SELECT session_id FROM child) \
       RETURNING s.* \
     ) \
     SELECT s.*, ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = s.user_id \
       ORDER BY r.role) AS direct_roles \
     FROM slid s";

/// A sign-in's writes, after its user's row is locked: evict the least
/// recently used live sessions beyond the limit, insert the session and its
/// first token. Returns the evicted ids.
const CREATE_SESSION: &str = "WITH evicted AS ( \
       UPDATE sessions SET revoked_at = $3 \
       WHERE revoked_at IS NULL AND id IN ( \
         SELECT id FROM sessions WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $3 \
         ORDER BY last_used_at DESC, created_at DESC, id DESC OFFSET $8) \
       RETURNING id, last_used_at, created_at \
     ), created AS ( \
       INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, \
         absolute_expires_at, revoked_at, user_agent, amr, tid) \
       VALUES ($1, $2, $3, $3, $4, $5, NULL, $6, $9, $10) \
       RETURNING id \
     ), first_token AS ( \
       INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at, used_at) \
       SELECT $7, id, 0, $3, NULL FROM created \
     ) \
     SELECT id FROM evicted ORDER BY last_used_at DESC, created_at DESC, id DESC";

/// A purge: sessions revoked, or expired, before the bound, oldest first
/// within the batch; their refresh tokens go with them (`ON DELETE
/// CASCADE`).
const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE id IN ( \
       SELECT id FROM sessions \
       WHERE revoked_at < $1 OR (revoked_at IS NULL AND expires_at < $1) \
       LIMIT $2)";

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        session: &NewSession,
        max_sessions: u32,
    ) -> Result<Vec<String>, StoreError> {
        let keep = i64::from(max_sessions.saturating_sub(1));
        let mut tx = self.begin().await?;
        // Concurrent sign-ins of one user wait here, so each one's next
        // statement (a new snapshot) sees the sessions the others created.
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(&session.user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let evicted: Vec<String> = sqlx::query_scalar(CREATE_SESSION)
            .bind(&session.id)
            .bind(&session.user_id)
            .bind(db_time(session.created_at))
            .bind(db_time(session.expires_at))
            .bind(db_time(session.absolute_expires_at))
            .bind(&session.user_agent)
            .bind(&session.token_hash[..])
            .bind(keep)
            .bind(amr_to_db(&session.amr)?)
            .bind(&session.tid)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(event) = &session.audit {
            super::admin::insert_event(&mut tx, event).await?;
        }
        commit(tx).await?;
        Ok(evicted)
    }

    async fn session_with_user(&self, id: &str) -> Result<Option<(Session, User)>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            ", u.email, u.name, u.password_hash, u.created_at AS user_created_at, u.disabled_at, \
             u.email_verified_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(session_with_user_from)
        .transpose()
    }

    async fn user_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.user_id = $1 \
             AND s.revoked_at IS NULL AND s.expires_at > $2 \
             ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC"
        ))
        .bind(user_id)
        .bind(db_time(now))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(session_from)
        .collect()
    }

    async fn revoke_session(
        &self,
        id: &str,
        user_id: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
             AND ($3::TEXT IS NULL OR user_id = $3)",
        )
        .bind(db_time(now))
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            ", t.generation, t.used_at AS token_used_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = $1"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RefreshRecord {
            session: session_from(&row)?,
            generation: row.time("generation")?,
            used_at: row.opt_time("token_used_at")?,
        }))
    }

    async fn rotate_refresh(&self, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        let row = sqlx::query(ROTATE)
            .bind(&r.child_hash[..])
            .bind(&r.parent_hash[..])
            .bind(db_time(r.now))
            .bind(db_time(r.expires_at))
            .bind(db_time(r.recent_since))
            .bind(db_time(r.max_recent))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(RotateOutcome::NotRotated);
        };
        let roles: Vec<String> = row.try_get("direct_roles").map_err(backend)?;
        Ok(RotateOutcome::Rotated(session_from(&row)?, roles))
    }

    async fn purge_sessions(&self, ended_before: u64, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(PURGE_SESSIONS)
            .bind(db_time(ended_before))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}
