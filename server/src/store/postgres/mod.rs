//! The PostgreSQL backend, for several server instances sharing one
//! database. Same `Store` contract as SQLite; what SQLite gets from its one
//! writer, this gets from row locks and conditional writes:
//!
//! - a rotation is one statement of data-modifying CTEs (one round trip):
//!   lock the live session row, mark the parent used only if unused, insert
//!   the successor only if that happened, slide the session only if that
//!   happened. Concurrent rotations of one family queue on the session row;
//!   each re-checks its conditions on the latest row versions, so the losers
//!   write nothing.
//! - a sign-in locks its user's row first, so concurrent sign-ins of one
//!   user evict in turn and the session limit holds.
//! - migrations and key rotation run under advisory locks.
//!
//! This module connects and migrates; each area's trait is implemented in
//! the file of that area (the rotation statement in `sessions.rs`).

use core::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{Store, StoreError, rows::backend};

mod admin;
mod email;
mod keys;
mod revocations;
mod roles;
mod sessions;
mod throttle;
mod users;

/// The migrations, in order. Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "login_failures",
        include_str!("../../../migrations/postgres/0002_login_failures.sql"),
    ),
    (
        3,
        "session_amr",
        include_str!("../../../migrations/postgres/0003_session_amr.sql"),
    ),
    (
        4,
        "protection",
        include_str!("../../../migrations/postgres/0004_protection.sql"),
    ),
    (
        5,
        "key_lifecycle",
        include_str!("../../../migrations/postgres/0005_key_lifecycle.sql"),
    ),
    (
        6,
        "email",
        include_str!("../../../migrations/postgres/0006_email.sql"),
    ),
    (
        7,
        "admin_audit",
        include_str!("../../../migrations/postgres/0007_admin_audit.sql"),
    ),
    (
        8,
        "session_tombstones",
        include_str!("../../../migrations/postgres/0008_session_tombstones.sql"),
    ),
];

/// Advisory lock keys (`pg_advisory_xact_lock`), arbitrary but fixed:
/// "edgeauth" in ASCII, plus one.
const MIGRATION_LOCK: i64 = 0x6564_6765_6175_7468;
const KEY_ROTATION_LOCK: i64 = MIGRATION_LOCK + 1;

/// PostgreSQL storage: a connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` or `postgresql://` URL with at most
    /// `pool_size` connections. The database must exist.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        // No ping before each acquire: it would double the round trips of
        // every query. A broken connection fails its query and is dropped.
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool's connections now.
    pub(crate) fn pool_connections(&self) -> super::PoolConnections {
        super::PoolConnections::of(&[(self.pool.size(), self.pool.num_idle())])
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(backend)
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        // One transaction under an advisory lock: instances starting at once
        // queue here, and each later one finds every migration recorded.
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS _edgeauth_migrations (\
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM _edgeauth_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for (version, name, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            sqlx::raw_sql(*sql)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query(
                "INSERT INTO _edgeauth_migrations (version, name, applied_at) \
                 VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT)",
            )
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        commit(tx).await
    }
}
