//! Storage: one trait per area ([`UserStore`], [`RoleStore`], [`KeyStore`],
//! [`SessionStore`], [`ThrottleStore`]), each in the module of that area with
//! its types, under one [`Store`] supertrait that adds migrations. One
//! implementation per backend (SQLite for one machine, PostgreSQL for several
//! instances sharing a database), a folder each with a file per area and its
//! own append-only migrations folder; [`connect_store`] picks one from
//! `DATABASE_URL`. A new area is a module here, a file in each backend and a
//! migration pair.
//!
//! The traits speak in plain values (ids as strings, times as seconds since
//! the epoch, hashes as bytes) so the SQL of each backend stays portable.
//! Rotation is a conditional update inside a transaction: the store never
//! reads a token and then writes based on what it read, so it stays correct
//! when several server instances share one database.

use core::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Backend, DatabaseUrl, Synchronous};

mod admin;
mod audit;
mod email;
mod keys;
mod postgres;
mod revocations;
mod roles;
mod rows;
mod sessions;
mod sqlite;
mod throttle;
mod users;

pub use admin::{AdminChange, AdminStore, ChangeOutcome, UserPage};
pub use audit::{AuditEvent, AuditQuery, AuditStore, LoggedEvent};
pub use email::{
    EmailStore, MailOutcome, MailTokenRecord, NewMail, NewMailToken, QueuedMail, Spent, TokenEffect,
};
pub use keys::{KeyStore, StoredKey};
pub use postgres::PgStore;
pub use revocations::RevocationStore;
pub use roles::{RoleDef, RoleStore};
pub use sessions::{NewSession, RefreshRecord, RotateOutcome, Rotation, Session, SessionStore};
pub use sqlite::SqliteStore;
pub use throttle::ThrottleStore;
pub use users::{User, UserStore};

/// An open store of either backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// The store, for the app state.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Its database connections now (for the metrics).
    pub(crate) fn pool_connections(&self) -> PoolConnections {
        match self {
            Self::Sqlite(s) => s.pool_connections(),
            Self::Postgres(s) => s.pool_connections(),
        }
    }

    /// Closes its connections.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// A store's open database connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoolConnections {
    /// Open and waiting in the pool.
    pub(crate) idle: u32,
    /// Open and lent out to a query or transaction.
    pub(crate) in_use: u32,
}

impl PoolConnections {
    /// From pools' (size, idle) counts.
    fn of(pools: &[(u32, usize)]) -> Self {
        pools
            .iter()
            .fold(Self { idle: 0, in_use: 0 }, |sum, &(size, idle)| {
                let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
                Self {
                    idle: sum.idle.saturating_add(idle),
                    in_use: sum.in_use.saturating_add(size - idle),
                }
            })
    }
}

/// Opens the backend that `url` names (not yet migrated). `synchronous`
/// applies to SQLite, `pool_size` to PostgreSQL.
pub async fn connect_store(
    url: &DatabaseUrl,
    synchronous: Synchronous,
    pool_size: u32,
) -> Result<AnyStore, StoreError> {
    Ok(match url.backend() {
        Backend::Sqlite => AnyStore::Sqlite(SqliteStore::connect(url.as_str(), synchronous).await?),
        Backend::Postgres => AnyStore::Postgres(PgStore::connect(url.as_str(), pool_size).await?),
    })
}

/// A storage failure. Backend errors are kept as opaque sources.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. the email exists).
    Conflict,
    /// A row the operation needs does not exist.
    NotFound,
    /// The database cannot be reached (connection refused or lost, pool
    /// exhausted or closed, server shutting down): worth a retry.
    Unavailable(Box<dyn core::error::Error + Send + Sync>),
    /// The backend failed.
    Backend(Box<dyn core::error::Error + Send + Sync>),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("conflicting row"),
            Self::NotFound => f.write_str("row not found"),
            Self::Unavailable(e) => write!(f, "database unavailable: {e}"),
            Self::Backend(e) => write!(f, "database: {e}"),
        }
    }
}

impl core::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Unavailable(e) | Self::Backend(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Everything the server keeps: one trait per area, each in its module
/// (users, roles, keys, sessions, throttle, revocations, admin, audit, email),
/// and the
/// migrations. Every
/// method of every area is atomic. Callers hold an `Arc<dyn Store>`; the
/// areas' methods are callable on it.
#[async_trait]
pub trait Store:
    UserStore
    + RoleStore
    + KeyStore
    + SessionStore
    + ThrottleStore
    + RevocationStore
    + AdminStore
    + AuditStore
    + EmailStore
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
}
