//! Sessions and refresh tokens on SQLite.
//!
//! Refresh rotations, the one write on a hot path, are group-committed: a
//! task takes the rotations that are waiting (up to 16), runs them as one
//! script in one transaction, and answers each. Under load that turns many transactions,
//! each a few round trips to the connection's thread, into a few; one
//! rotation alone waits for nothing.

use core::fmt::Write as _;
use std::sync::OnceLock;

use async_trait::async_trait;
use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{SqliteStore, commit};
use crate::store::{
    NewSession, RefreshRecord, RotateOutcome, Rotation, Session, SessionStore, StoreError, User,
    rows::{
        StoreRow as _, amr_to_db, backend, db_time, session_columns, session_from,
        session_with_user_from,
    },
};

/// The most rotations one transaction takes. Chosen by measurement
/// (bench.sh, 64 connections): 16 gave 10,300-11,600 rotations/s against
/// 7,000-10,300 for 64, whose long batches make every rotation in them wait
/// for the slowest.
pub(super) const MAX_BATCH: usize = 16;

/// A rotation waiting for the batcher, with where its outcome goes.
pub(super) type Pending = (Rotation, oneshot::Sender<Result<RotateOutcome, StoreError>>);

/// A purge: sessions revoked, or expired, before the bound, oldest first
/// within the batch; their refresh tokens go with them (`ON DELETE
/// CASCADE`).
const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE id IN ( \
       SELECT id FROM sessions \
       WHERE revoked_at < ? OR (revoked_at IS NULL AND expires_at < ?) \
       LIMIT ?)";

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        session: &NewSession,
        max_sessions: u32,
    ) -> Result<Vec<String>, StoreError> {
        let now = db_time(session.created_at);
        let mut tx = self.begin().await?;
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY last_used_at DESC, created_at DESC, id DESC",
        )
        .bind(&session.user_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let keep = usize::try_from(max_sessions.saturating_sub(1)).unwrap_or(usize::MAX);
        let evicted: Vec<String> = live.into_iter().skip(keep).collect();
        for id in &evicted {
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, \
             absolute_expires_at, revoked_at, user_agent, amr, tid) \
             VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(now)
        .bind(now)
        .bind(db_time(session.expires_at))
        .bind(db_time(session.absolute_expires_at))
        .bind(&session.user_agent)
        .bind(amr_to_db(&session.amr)?)
        .bind(&session.tid)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at, used_at) \
             VALUES (?, ?, 0, ?, NULL)",
        )
        .bind(&session.token_hash[..])
        .bind(&session.id)
        .bind(now)
        .execute(&mut *tx)
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
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
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
            " FROM sessions s WHERE s.user_id = ? \
             AND s.revoked_at IS NULL AND s.expires_at > ? \
             ORDER BY s.last_used_at DESC, s.created_at DESC, s.id DESC"
        ))
        .bind(user_id)
        .bind(db_time(now))
        .fetch_all(&self.reader)
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
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL \
             AND (? IS NULL OR user_id = ?)",
        )
        .bind(db_time(now))
        .bind(id)
        .bind(user_id)
        .bind(user_id)
        .execute(&self.writer)
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
             WHERE t.token_hash = ?"
        ))
        .bind(&hash[..])
        .fetch_optional(&self.reader)
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
        let (tx, rx) = oneshot::channel();
        let gone = || StoreError::Backend("the rotation task has stopped".into());
        self.rotations
            .send((r.clone(), tx))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    async fn purge_sessions(&self, ended_before: u64, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(PURGE_SESSIONS)
            .bind(db_time(ended_before))
            .bind(db_time(ended_before))
            .bind(i64::from(limit))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

/// The batcher: takes what is waiting (at least one), commits it as one
/// transaction, answers, repeats. Ends when every store handle is dropped.
pub(super) async fn rotate_batches(writer: SqlitePool, mut pending: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rotations: Vec<&Rotation> = batch.iter().map(|(r, _)| r).collect();
        match rotate_in_one_transaction(&writer, &rotations).await {
            Ok(outcomes) => {
                for ((_, answer), outcome) in batch.drain(..).zip(outcomes) {
                    let _ = answer.send(Ok(outcome));
                }
            }
            // One failing rotation must not fail the others: retry alone,
            // so each gets its own outcome or error.
            Err(_) if batch.len() > 1 => {
                for (rotation, answer) in batch.drain(..) {
                    let outcome = rotate_in_one_transaction(&writer, &[&rotation]).await;
                    let outcome = outcome.map(|o| o.into_iter().next());
                    let _ = answer.send(outcome.map(|o| o.unwrap_or(RotateOutcome::NotRotated)));
                }
            }
            Err(e) => {
                if let Some((_, answer)) = batch.pop() {
                    let _ = answer.send(Err(e));
                }
            }
        }
    }
}

/// The script that rotates `n` tokens (1..=[`MAX_BATCH`]), built once per
/// size: three statements a rotation, as [`rotate_in_one_transaction`] says.
///
/// Anonymous `?`s only: sqlx binds a multi-statement script's numbered
/// parameters wrongly once gaps add up (`?5` in a later statement leaves
/// `?1`..`?4` unnamed there, and those unnamed slots consume arguments), so
/// the arguments are listed in the order the `?`s appear.
fn rotation_script(n: usize) -> Result<&'static str, StoreError> {
    static SCRIPTS: [OnceLock<String>; MAX_BATCH] = [const { OnceLock::new() }; MAX_BATCH];
    let slot = n
        .checked_sub(1)
        .and_then(|i| SCRIPTS.get(i))
        .ok_or_else(|| StoreError::Backend(format!("a batch of {n} rotations").into()))?;
    Ok(slot.get_or_init(|| {
        let columns = session_columns!().replace("s.", "");
        let mut sql = String::new();
        for index in 0..n {
            let _ = writeln!(
                sql,
                "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at, used_at) \
                   SELECT ?, t.session_id, t.generation + 1, ?, NULL \
                   FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
                   WHERE t.token_hash = ? AND t.used_at IS NULL \
                     AND s.revoked_at IS NULL AND s.expires_at > ? \
                     AND (SELECT count(*) FROM refresh_tokens c \
                          WHERE c.session_id = t.session_id AND c.created_at > ?) < ?; \
                 UPDATE refresh_tokens SET used_at = ? \
                   WHERE token_hash = ? AND used_at IS NULL AND changes() = 1; \
                 UPDATE sessions SET last_used_at = ?, expires_at = MIN(?, absolute_expires_at) \
                   WHERE changes() = 1 \
                     AND id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?) \
                   RETURNING {index} AS batch_index, {columns}, \
                     (SELECT json_group_array(role) FROM (SELECT role FROM user_roles \
                       WHERE user_id = sessions.user_id ORDER BY role)) AS direct_roles;"
            );
        }
        sql
    }))
}

/// An argument of the rotation script.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Hash(&'a [u8; 32]),
    Time(i64),
}

/// Rotates each of `rotations` in one transaction, with one script: one
/// round trip to SQLite's thread for the lot, plus begin and commit.
///
/// Each rotation is three conditional statements, and each statement
/// proceeds only if the previous one changed exactly one row (`changes()`),
/// so a used token, a dead session, or an earlier rotation of the same
/// parent in this very batch writes nothing: (1) insert the successor if
/// the parent is unused, its session live and under its rotation cap; (2) mark the parent used;
/// (3) slide the session, returning it with the rotation's index. A
/// rotation with no returned row was not rotated. (PostgreSQL does the same
/// in one statement of data-modifying CTEs.)
async fn rotate_in_one_transaction(
    writer: &SqlitePool,
    rotations: &[&Rotation],
) -> Result<Vec<RotateOutcome>, StoreError> {
    let script = rotation_script(rotations.len())?;
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(11 * rotations.len());
    for r in rotations {
        let (child, parent) = (Arg::Hash(&r.child_hash), Arg::Hash(&r.parent_hash));
        let (now, expires) = (Arg::Time(db_time(r.now)), Arg::Time(db_time(r.expires_at)));
        let (since, cap) = (
            Arg::Time(db_time(r.recent_since)),
            Arg::Time(db_time(r.max_recent)),
        );
        // In the order of the script's `?`s.
        args.extend([
            child, now, parent, now, since, cap, now, parent, now, expires, child,
        ]);
    }
    let mut query = sqlx::query(script);
    for arg in args {
        query = match arg {
            Arg::Hash(hash) => query.bind(&hash[..]),
            Arg::Time(time) => query.bind(time),
        };
    }
    let mut tx = writer.begin().await.map_err(backend)?;
    let rows = query.fetch_all(&mut *tx).await.map_err(backend)?;
    commit(tx).await?;
    let mut outcomes = vec![RotateOutcome::NotRotated; rotations.len()];
    for row in &rows {
        let index: i64 = row.try_get("batch_index").map_err(backend)?;
        let roles: String = row.try_get("direct_roles").map_err(backend)?;
        let roles: Vec<String> =
            serde_json::from_str(&roles).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let outcome = usize::try_from(index)
            .ok()
            .and_then(|i| outcomes.get_mut(i))
            .ok_or_else(|| StoreError::Backend("rotation index out of range".into()))?;
        *outcome = RotateOutcome::Rotated(session_from(row)?, roles);
    }
    Ok(outcomes)
}
