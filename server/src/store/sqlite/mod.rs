//! The embedded SQLite backend: WAL mode, one writer connection (SQLite
//! serialises writers anyway; one connection avoids busy-lock upgrades) and a
//! small pool of readers. This module opens the database, migrates it and
//! checkpoints its WAL; each area's trait is implemented in the file of that
//! area, refresh rotations (group-committed) in `sessions.rs`.

use core::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::mpsc;

use super::{Store, StoreError, rows::backend};
use crate::config::Synchronous;

mod admin;
mod email;
mod keys;
mod revocations;
mod roles;
mod sessions;
mod throttle;
mod users;

use sessions::{MAX_BATCH, Pending, rotate_batches};

/// The migrations, in order. Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "login_failures",
        include_str!("../../../migrations/sqlite/0002_login_failures.sql"),
    ),
    (
        3,
        "session_amr",
        include_str!("../../../migrations/sqlite/0003_session_amr.sql"),
    ),
    (
        4,
        "protection",
        include_str!("../../../migrations/sqlite/0004_protection.sql"),
    ),
    (
        5,
        "key_lifecycle",
        include_str!("../../../migrations/sqlite/0005_key_lifecycle.sql"),
    ),
    (
        6,
        "email",
        include_str!("../../../migrations/sqlite/0006_email.sql"),
    ),
    (
        7,
        "admin_audit",
        include_str!("../../../migrations/sqlite/0007_admin_audit.sql"),
    ),
    (
        8,
        "session_tombstones",
        include_str!("../../../migrations/sqlite/0008_session_tombstones.sql"),
    ),
];

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

    /// The connections of both pools now.
    pub(crate) fn pool_connections(&self) -> super::PoolConnections {
        super::PoolConnections::of(&[
            (self.writer.size(), self.writer.num_idle()),
            (self.reader.size(), self.reader.num_idle()),
        ])
    }

    /// Closes both pools (checkpoints happen on the last close).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
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
