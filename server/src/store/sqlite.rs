//! The embedded SQLite backend: WAL mode, one writer connection (SQLite
//! serialises writers anyway; one connection avoids busy-lock upgrades) and a
//! small pool of readers.
//!
//! Refresh rotations, the one write on a hot path, are group-committed: a
//! task takes the rotations that are waiting (up to 16), runs them as one
//! script in one transaction, and answers each. Under load that turns many transactions,
//! each a few round trips to the connection's thread, into a few; one
//! rotation alone waits for nothing.

use core::{fmt::Write as _, str::FromStr, time::Duration};
use std::sync::OnceLock;

use async_trait::async_trait;
use sqlx::{
    Row, Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::{mpsc, oneshot};

use super::{
    NewSession, RefreshRecord, RoleDef, RotateOutcome, Rotation, Session, Store, StoreError,
    StoredKey, User,
    rows::{
        StoreRow as _, amr_to_db, backend, db_time, from_db_time, role_definitions,
        session_columns, session_from, session_with_user_from, user_columns, user_from,
    },
};
use crate::config::Synchronous;

/// The migrations, in order. Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "login_failures",
        include_str!("../../migrations/sqlite/0002_login_failures.sql"),
    ),
    (
        3,
        "session_amr",
        include_str!("../../migrations/sqlite/0003_session_amr.sql"),
    ),
];

/// The most rotations one transaction takes. Chosen by measurement
/// (bench.sh, 64 connections): 16 gave 10,300-11,600 rotations/s against
/// 7,000-10,300 for 64, whose long batches make every rotation in them wait
/// for the slowest.
const MAX_BATCH: usize = 16;

/// A rotation waiting for the batcher, with where its outcome goes.
type Pending = (Rotation, oneshot::Sender<Result<RotateOutcome, StoreError>>);

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    rotations: mpsc::Sender<Pending>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://PATH` URL.
    pub async fn connect(url: &str, synchronous: Synchronous) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Normal => SqliteSynchronous::Normal,
                Synchronous::Full => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // A local SQLite connection cannot go stale: skip the ping sqlx
        // otherwise sends before every acquire (a round trip per query).
        // The writer leaves checkpoints to a background task (below), so a
        // commit never waits for the WAL to be copied into the database
        // file and synced; it checkpoints by itself only if that task falls
        // far behind.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string()),
            )
            .await
            .map_err(backend)?;
        // Each SQLite connection is a thread in sqlx: more readers than
        // cores only adds context switches.
        let cores = std::thread::available_parallelism().map_or(2, core::num::NonZeroUsize::get);
        let readers = u32::try_from(cores.clamp(2, 8)).unwrap_or(2);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let (rotations, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(rotate_batches(writer.clone(), pending));
        tokio::spawn(checkpoint_in_background(
            reader.clone(),
            rotations.downgrade(),
        ));
        Ok(Self {
            writer,
            reader,
            rotations,
        })
    }

    /// Closes both pools (checkpoints happen on the last close).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The user that `sql` (one bound value) finds, if any.
    async fn user_where(&self, sql: &'static str, value: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin().await.map_err(backend)
    }
}

async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    tx.commit().await.map_err(backend)
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS _edgeauth_migrations (\
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        for (version, name, sql) in MIGRATIONS {
            let mut tx = self.begin().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM _edgeauth_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query(
                "INSERT INTO _edgeauth_migrations (version, name, applied_at) \
                 VALUES (?, ?, CAST(strftime('%s','now') AS INTEGER))",
            )
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            commit(tx).await?;
        }
        Ok(())
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(db_time(user.created_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where(
            concat!("SELECT ", user_columns!(), " FROM users WHERE email = ?"),
            email,
        )
        .await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where(
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?"),
            id,
        )
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn user_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role")
            .bind(user_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)
    }

    async fn grant_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO user_roles (user_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(role)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM user_roles WHERE user_id = ? AND role = ?")
            .bind(user_id)
            .bind(role)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn role_definitions(&self) -> Result<Vec<RoleDef>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM roles ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let inherits: Vec<(String, String)> =
            sqlx::query_as("SELECT role, parent FROM role_inherits ORDER BY role, parent")
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        let perms: Vec<(String, String)> =
            sqlx::query_as("SELECT role, perm FROM role_permissions ORDER BY role, perm")
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        Ok(role_definitions(names, inherits, perms))
    }

    async fn define_role(&self, role: &RoleDef, now: u64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO roles (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(&role.name)
            .bind(db_time(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let lists: [(&'static str, &'static str, &[String]); 2] = [
            (
                "DELETE FROM role_inherits WHERE role = ?",
                "INSERT INTO role_inherits (role, parent) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &role.inherits,
            ),
            (
                "DELETE FROM role_permissions WHERE role = ?",
                "INSERT INTO role_permissions (role, perm) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &role.perms,
            ),
        ];
        for (delete, insert, values) in lists {
            sqlx::query(delete)
                .bind(&role.name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            for value in values {
                sqlx::query(insert)
                    .bind(&role.name)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
        }
        commit(tx).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, public_key, sealed_seed, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: row.text("kid")?,
                    public_key: row.bytes("public_key")?,
                    sealed_seed: row.bytes("sealed_seed")?,
                    created_at: row.time("created_at")?,
                    retired_at: row.opt_time("retired_at")?,
                })
            })
            .collect()
    }

    async fn insert_first_key(&self, key: &StoredKey) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_seed, created_at, retired_at) \
             SELECT ?, ?, ?, ?, NULL \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed_seed)
        .bind(db_time(key.created_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_key(&self, key: &StoredKey, now: u64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")
            .bind(db_time(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_seed, created_at, retired_at) \
             VALUES (?, ?, ?, ?, NULL)",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed_seed)
        .bind(db_time(key.created_at))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        commit(tx).await
    }

    async fn create_session(
        &self,
        session: &NewSession,
        max_sessions: u32,
    ) -> Result<Vec<String>, StoreError> {
        let now = db_time(session.created_at);
        let mut tx = self.begin().await?;
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY last_used_at DESC, created_at DESC, id",
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
        commit(tx).await?;
        Ok(evicted)
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?
        .as_ref()
        .map(session_from)
        .transpose()
    }

    async fn session_with_user(&self, id: &str) -> Result<Option<(Session, User)>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            ", u.email, u.name, u.password_hash, u.created_at AS user_created_at \
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
             ORDER BY s.last_used_at DESC, s.created_at DESC, s.id"
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

    async fn login_failures(&self, key_hash: &[u8; 32]) -> Result<Option<(u64, u64)>, StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT failures, window_start FROM login_failures WHERE key_hash = ?1")
                .bind(&key_hash[..])
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        Ok(row.map(|(failures, start)| (from_db_time(failures), from_db_time(start))))
    }

    async fn record_login_failure(
        &self,
        key_hash: &[u8; 32],
        now: u64,
        window: u64,
    ) -> Result<(), StoreError> {
        let ended = db_time(now.saturating_sub(window));
        sqlx::query("DELETE FROM login_failures WHERE window_start <= ?1")
            .bind(ended)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO login_failures (key_hash, failures, window_start) VALUES (?1, 1, ?2) \
             ON CONFLICT (key_hash) DO UPDATE SET \
               failures = CASE WHEN login_failures.window_start <= ?3 THEN 1 \
                 ELSE login_failures.failures + 1 END, \
               window_start = CASE WHEN login_failures.window_start <= ?3 THEN ?2 \
                 ELSE login_failures.window_start END",
        )
        .bind(&key_hash[..])
        .bind(db_time(now))
        .bind(ended)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_login_failures(&self, key_hash: &[u8; 32]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key_hash = ?1")
            .bind(&key_hash[..])
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
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
}

/// How often the background task checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL size (pages) at which the writer checkpoints by itself: a safety
/// net should the background task fall behind. (SQLite's default, 1000
/// pages, is reached every few hundred commits when commits are small, and
/// each such checkpoint stalls the writer for its copy and fsync.)
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// Copies committed WAL frames into the database file every
/// [`CHECKPOINT_EVERY`] on a reader connection, beside the writer: a
/// PASSIVE checkpoint waits for no reader or writer, and the writer goes on
/// committing meanwhile. Ends when the store is closed or every handle to
/// it is dropped (`store` upgrades no more).
async fn checkpoint_in_background(reader: SqlitePool, store: mpsc::WeakSender<Pending>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if reader.is_closed() || store.upgrade().is_none() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&reader)
            .await
        {
            if reader.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// The batcher: takes what is waiting (at least one), commits it as one
/// transaction, answers, repeats. Ends when every store handle is dropped.
async fn rotate_batches(writer: SqlitePool, mut pending: mpsc::Receiver<Pending>) {
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
                     AND s.revoked_at IS NULL AND s.expires_at > ?; \
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
/// the parent is unused and its session live; (2) mark the parent used;
/// (3) slide the session, returning it with the rotation's index. A
/// rotation with no returned row was not rotated. (PostgreSQL does the same
/// in one statement of data-modifying CTEs.)
async fn rotate_in_one_transaction(
    writer: &SqlitePool,
    rotations: &[&Rotation],
) -> Result<Vec<RotateOutcome>, StoreError> {
    let script = rotation_script(rotations.len())?;
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(9 * rotations.len());
    for r in rotations {
        let (child, parent) = (Arg::Hash(&r.child_hash), Arg::Hash(&r.parent_hash));
        let (now, expires) = (Arg::Time(db_time(r.now)), Arg::Time(db_time(r.expires_at)));
        // In the order of the script's `?`s.
        args.extend([child, now, parent, now, now, parent, now, expires, child]);
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
