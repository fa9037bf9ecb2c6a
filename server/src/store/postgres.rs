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

use core::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    PgPool, Postgres, Row, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{
    NewSession, RefreshRecord, RoleDef, RotateOutcome, Rotation, Session, Store, StoreError,
    StoredKey, User,
    rows::{
        StoreRow as _, amr_to_db, backend, db_time, from_db_time, role_definitions,
        session_columns, session_from, session_with_user_from, user_columns, user_from,
    },
};

/// The migrations, in order. Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "login_failures",
        include_str!("../../migrations/postgres/0002_login_failures.sql"),
    ),
    (
        3,
        "session_amr",
        include_str!("../../migrations/postgres/0003_session_amr.sql"),
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

    /// The user that `sql` (one bound value) finds, if any.
    async fn user_where(&self, sql: &'static str, value: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }
}

async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(backend)
}

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
         ORDER BY last_used_at DESC, created_at DESC, id OFFSET $8) \
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
     SELECT id FROM evicted ORDER BY last_used_at DESC, created_at DESC, id";

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

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(db_time(user.created_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where(
            concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1"),
            email,
        )
        .await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where(
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
            id,
        )
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn user_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn grant_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(role)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_role(&self, user_id: &str, role: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
            .bind(user_id)
            .bind(role)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn role_definitions(&self) -> Result<Vec<RoleDef>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM roles ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let inherits: Vec<(String, String)> =
            sqlx::query_as("SELECT role, parent FROM role_inherits ORDER BY role, parent")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let perms: Vec<(String, String)> =
            sqlx::query_as("SELECT role, perm FROM role_permissions ORDER BY role, perm")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(role_definitions(names, inherits, perms))
    }

    async fn define_role(&self, role: &RoleDef, now: u64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO roles (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&role.name)
            .bind(db_time(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let lists: [(&'static str, &'static str, &[String]); 2] = [
            (
                "DELETE FROM role_inherits WHERE role = $1",
                "INSERT INTO role_inherits (role, parent) \
                 SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING",
                &role.inherits,
            ),
            (
                "DELETE FROM role_permissions WHERE role = $1",
                "INSERT INTO role_permissions (role, perm) \
                 SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING",
                &role.perms,
            ),
        ];
        for (delete, insert, values) in lists {
            sqlx::query(delete)
                .bind(&role.name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query(insert)
                .bind(&role.name)
                .bind(values)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        commit(tx).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, public_key, sealed_seed, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
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
        // Two instances starting at once both get here; the unique index on
        // the signer (migration 1) turns the loser's insert into nothing.
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_seed, created_at, retired_at) \
             SELECT $1, $2, $3, $4, NULL \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.public_key)
        .bind(&key.sealed_seed)
        .bind(db_time(key.created_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_key(&self, key: &StoredKey, now: u64) -> Result<(), StoreError> {
        // Serialised, so two rotations at once both happen, one after the
        // other, instead of the second finding the first's key unretired.
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_ROTATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(db_time(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, public_key, sealed_seed, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, NULL)",
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
        commit(tx).await?;
        Ok(evicted)
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
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
             ORDER BY s.last_used_at DESC, s.created_at DESC, s.id"
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

    async fn login_failures(&self, key_hash: &[u8; 32]) -> Result<Option<(u64, u64)>, StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT failures, window_start FROM login_failures WHERE key_hash = $1")
                .bind(&key_hash[..])
                .fetch_optional(&self.pool)
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
        sqlx::query("DELETE FROM login_failures WHERE window_start <= $1")
            .bind(ended)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO login_failures (key_hash, failures, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT (key_hash) DO UPDATE SET \
               failures = CASE WHEN login_failures.window_start <= $3 THEN 1 \
                 ELSE login_failures.failures + 1 END, \
               window_start = CASE WHEN login_failures.window_start <= $3 THEN $2 \
                 ELSE login_failures.window_start END",
        )
        .bind(&key_hash[..])
        .bind(db_time(now))
        .bind(ended)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_login_failures(&self, key_hash: &[u8; 32]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key_hash = $1")
            .bind(&key_hash[..])
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn rotate_refresh(&self, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        let row = sqlx::query(ROTATE)
            .bind(&r.child_hash[..])
            .bind(&r.parent_hash[..])
            .bind(db_time(r.now))
            .bind(db_time(r.expires_at))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(RotateOutcome::NotRotated);
        };
        let roles: Vec<String> = row.try_get("direct_roles").map_err(backend)?;
        Ok(RotateOutcome::Rotated(session_from(&row)?, roles))
    }
}
