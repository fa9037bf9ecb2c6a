//! What the backends share: reading rows into the store's types, times as
//! stored, and backend errors. Generic over sqlx's `Row`, so each backend
//! keeps only its SQL.

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{RoleDef, Session, StoreError, User};

/// A backend error: a unique violation is `Conflict`; a database out of
/// reach (no connection, pool exhausted or closed, PostgreSQL's connection
/// exceptions, class 08, and shutdowns, 57P01..57P03) is `Unavailable`.
pub(super) fn backend(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => return StoreError::Conflict,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

/// Seconds as stored (INTEGER and BIGINT are signed).
pub(super) fn db_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Seconds (or any count) as read back; a negative value reads as 0.
pub(super) fn from_db_time(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// A row of either backend, read by column name.
pub(super) trait StoreRow {
    /// A text column.
    fn text(&self, column: &str) -> Result<String, StoreError>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// A time (or any non-negative integer) column.
    fn time(&self, column: &str) -> Result<u64, StoreError>;
    /// A nullable time column.
    fn opt_time(&self, column: &str) -> Result<Option<u64>, StoreError>;
    /// A binary column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
}

impl<R> StoreRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.try_get(column).map_err(backend)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(backend)
    }

    fn time(&self, column: &str) -> Result<u64, StoreError> {
        self.try_get::<i64, _>(column)
            .map(from_db_time)
            .map_err(backend)
    }

    fn opt_time(&self, column: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .try_get::<Option<i64>, _>(column)
            .map_err(backend)?
            .map(from_db_time))
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.try_get(column).map_err(backend)
    }
}

/// The session columns every session query selects (table alias `s`).
/// Macros, not constants, so each query is `concat!`ed into one static
/// string at compile time instead of formatted per request.
macro_rules! session_columns {
    () => {
        "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, \
         s.absolute_expires_at, s.revoked_at, s.user_agent, s.amr, s.tid"
    };
}

/// The user columns (no alias).
macro_rules! user_columns {
    () => {
        "id, email, name, password_hash, created_at, disabled_at, email_verified_at"
    };
}

pub(super) use {session_columns, user_columns};

pub(super) fn user_from(row: &impl StoreRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.text("id")?,
        email: row.text("email")?,
        name: row.opt_text("name")?,
        password_hash: row.text("password_hash")?,
        created_at: row.time("created_at")?,
        disabled_at: row.opt_time("disabled_at")?,
        email_verified_at: row.opt_time("email_verified_at")?,
    })
}

pub(super) fn session_from(row: &impl StoreRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        created_at: row.time("created_at")?,
        last_used_at: row.time("last_used_at")?,
        expires_at: row.time("expires_at")?,
        absolute_expires_at: row.time("absolute_expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        user_agent: row.opt_text("user_agent")?,
        amr: amr_from_db(&row.text("amr")?)?,
        tid: row.opt_text("tid")?,
    })
}

/// A session's authentication methods as stored: a JSON array of strings
/// (migration 3), unambiguous whatever a method's name holds.
pub(super) fn amr_to_db(amr: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(amr).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// A session's authentication methods as read back.
fn amr_from_db(stored: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(stored).map_err(|e| StoreError::Backend(Box::new(e)))
}

/// A session row joined with its user's columns (`email`, `name`,
/// `password_hash`, `user_created_at`).
pub(super) fn session_with_user_from(row: &impl StoreRow) -> Result<(Session, User), StoreError> {
    let session = session_from(row)?;
    let user = User {
        id: session.user_id.clone(),
        email: row.text("email")?,
        name: row.opt_text("name")?,
        password_hash: row.text("password_hash")?,
        created_at: row.time("user_created_at")?,
        disabled_at: row.opt_time("disabled_at")?,
        email_verified_at: row.opt_time("email_verified_at")?,
    };
    Ok((session, user))
}

/// Role definitions from the role names and the (role, value) pairs of
/// `role_inherits` and `role_permissions`.
pub(super) fn role_definitions(
    names: Vec<String>,
    inherits: Vec<(String, String)>,
    perms: Vec<(String, String)>,
) -> Vec<RoleDef> {
    let mut defs: Vec<RoleDef> = names
        .into_iter()
        .map(|name| RoleDef {
            name,
            ..RoleDef::default()
        })
        .collect();
    for (pairs, is_perm) in [(inherits, false), (perms, true)] {
        for (role, value) in pairs {
            if let Some(def) = defs.iter_mut().find(|d| d.name == role) {
                if is_perm {
                    def.perms.push(value);
                } else {
                    def.inherits.push(value);
                }
            }
        }
    }
    defs
}
