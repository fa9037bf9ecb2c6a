//! The embedded SQLite backend: WAL mode, one writer connection (SQLite
//! serialises writers anyway; one connection avoids busy-lock upgrades) and a
//! small pool of readers.

use core::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Row, Sqlite, SqlitePool, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};

use super::{
    NewSession, RefreshRecord, RoleDef, RotateOutcome, Rotation, Session, Store, StoreError,
    StoredKey, User,
};
use crate::config::Synchronous;

/// The migrations, in order. Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../../migrations/sqlite/0001_initial.sql"),
)];

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict;
    }
    StoreError::Backend(Box::new(e))
}

/// Seconds as stored (INTEGER is signed).
fn db_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn from_db_time(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn get_time(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    row.try_get::<i64, _>(column)
        .map(from_db_time)
        .map_err(backend)
}

fn get_opt_time(row: &SqliteRow, column: &str) -> Result<Option<u64>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(column)
        .map_err(backend)?
        .map(from_db_time))
}

fn get_str(row: &SqliteRow, column: &str) -> Result<String, StoreError> {
    row.try_get(column).map_err(backend)
}

fn user_from(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: get_str(row, "id")?,
        email: get_str(row, "email")?,
        name: row.try_get("name").map_err(backend)?,
        password_hash: get_str(row, "password_hash")?,
        created_at: get_time(row, "created_at")?,
    })
}

fn session_from(row: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: get_str(row, "id")?,
        user_id: get_str(row, "user_id")?,
        created_at: get_time(row, "created_at")?,
        last_used_at: get_time(row, "last_used_at")?,
        expires_at: get_time(row, "expires_at")?,
        absolute_expires_at: get_time(row, "absolute_expires_at")?,
        revoked_at: get_opt_time(row, "revoked_at")?,
        user_agent: row.try_get("user_agent").map_err(backend)?,
    })
}

const SESSION_COLUMNS: &str = "s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, \
     s.absolute_expires_at, s.revoked_at, s.user_agent";

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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
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
        Ok(Self { writer, reader })
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
        sqlx::query("SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        sqlx::query("SELECT id, email, name, password_hash, created_at FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from)
            .transpose()
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
        let inherits = sqlx::query("SELECT role, parent FROM role_inherits ORDER BY role, parent")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let perms = sqlx::query("SELECT role, perm FROM role_permissions ORDER BY role, perm")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let mut defs: Vec<RoleDef> = names
            .into_iter()
            .map(|name| RoleDef {
                name,
                ..RoleDef::default()
            })
            .collect();
        for (rows, is_perm) in [(inherits, false), (perms, true)] {
            for row in rows {
                let role: String = row.try_get(0).map_err(backend)?;
                let value: String = row.try_get(1).map_err(backend)?;
                if let Some(def) = defs.iter_mut().find(|d| d.name == role) {
                    if is_perm {
                        def.perms.push(value);
                    } else {
                        def.inherits.push(value);
                    }
                }
            }
        }
        Ok(defs)
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
                    kid: get_str(row, "kid")?,
                    public_key: row.try_get("public_key").map_err(backend)?,
                    sealed_seed: row.try_get("sealed_seed").map_err(backend)?,
                    created_at: get_time(row, "created_at")?,
                    retired_at: get_opt_time(row, "retired_at")?,
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
             absolute_expires_at, revoked_at, user_agent) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(now)
        .bind(now)
        .bind(db_time(session.expires_at))
        .bind(db_time(session.absolute_expires_at))
        .bind(&session.user_agent)
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
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .as_ref()
            .map(session_from)
            .transpose()
    }

    async fn session_with_user(&self, id: &str) -> Result<Option<(Session, User)>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, u.email, u.name, u.password_hash, \
             u.created_at AS user_created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let session = session_from(&row)?;
        let user = User {
            id: session.user_id.clone(),
            email: get_str(&row, "email")?,
            name: row.try_get("name").map_err(backend)?,
            password_hash: get_str(&row, "password_hash")?,
            created_at: get_time(&row, "user_created_at")?,
        };
        Ok(Some((session, user)))
    }

    async fn user_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.user_id = ? \
             AND s.revoked_at IS NULL AND s.expires_at > ? \
             ORDER BY s.last_used_at DESC, s.created_at DESC, s.id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
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
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, t.generation, t.used_at AS token_used_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             WHERE t.token_hash = ?"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&hash[..])
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(RefreshRecord {
            session: session_from(&row)?,
            generation: get_time(&row, "generation")?,
            used_at: get_opt_time(&row, "token_used_at")?,
        }))
    }

    async fn rotate_refresh(&self, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        // One script, one round trip to SQLite's thread, inside a
        // transaction. Each write is conditional, and each later statement
        // proceeds only if the previous one changed exactly one row
        // (`changes()`), so a lost race, a used token or a dead session
        // writes nothing: (1) insert the successor if the parent is unused
        // and its session live; (2) mark the parent used; (3) slide the
        // session, returning it. (PostgreSQL does the same in one statement
        // of data-modifying CTEs.)
        let sql = format!(
            "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at, used_at) \
               SELECT ?1, t.session_id, t.generation + 1, ?3, NULL \
               FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
               WHERE t.token_hash = ?2 AND t.used_at IS NULL \
                 AND s.revoked_at IS NULL AND s.expires_at > ?3; \
             UPDATE refresh_tokens SET used_at = ?3 \
               WHERE token_hash = ?2 AND used_at IS NULL AND changes() = 1; \
             UPDATE sessions SET last_used_at = ?3, expires_at = MIN(?4, absolute_expires_at) \
               WHERE changes() = 1 \
                 AND id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?1) \
               RETURNING {}, (SELECT json_group_array(role) FROM \
                 (SELECT role FROM user_roles WHERE user_id = sessions.user_id ORDER BY role)) \
                 AS direct_roles",
            SESSION_COLUMNS.replace("s.", "")
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&r.child_hash[..])
            .bind(&r.parent_hash[..])
            .bind(db_time(r.now))
            .bind(db_time(r.expires_at))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(row) = rows.first() else {
            tx.rollback().await.map_err(backend)?;
            return Ok(RotateOutcome::NotRotated);
        };
        let session = session_from(row)?;
        let roles: String = row.try_get("direct_roles").map_err(backend)?;
        let roles: Vec<String> =
            serde_json::from_str(&roles).map_err(|e| StoreError::Backend(Box::new(e)))?;
        commit(tx).await?;
        Ok(RotateOutcome::Rotated(session, roles))
    }
}
