//! Administration: listing users by a keyset cursor, and the changes an
//! administrator (or the CLI) makes, each applied with its audit event in
//! one transaction ([`AdminStore::apply`]), so that no crash keeps an
//! action without its event.
//!
//! Both backends run the same SQL (numbered `$N` parameters, which SQLite
//! takes too), so the implementation is written once, in
//! [`admin_store!`], and instantiated in `sqlite/admin.rs` and
//! `postgres/admin.rs`.

use async_trait::async_trait;

use super::{AuditEvent, NewMail, RoleDef, StoreError, User};

/// A change to users, roles or sessions, recorded by an audit event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AdminChange {
    /// Inserts a user with these direct roles, and queues `mails` for it
    /// (`Conflict` if the email is taken).
    CreateUser {
        /// The new user.
        user: User,
        /// Roles granted at once.
        roles: Vec<String>,
        /// Mails queued with it (a registration's verification link).
        mails: Vec<NewMail>,
    },
    /// Changes a user's email and/or name (`Conflict` if the email is
    /// taken).
    UpdateUser {
        /// The user.
        id: String,
        /// The new normalised email.
        email: Option<String>,
        /// The new name (`Some(None)` clears it).
        name: Option<Option<String>>,
    },
    /// Disables (`Some(now)`) a user, revoking every live session at that
    /// time, or enables it (`None`).
    SetDisabled {
        /// The user.
        id: String,
        /// When; None to enable.
        at: Option<u64>,
    },
    /// Deletes a user; its sessions and grants go with it, and each
    /// session is first recorded as revoked (at `now`, or when it was), so
    /// that the revocation feed keeps listing it.
    DeleteUser {
        /// The user.
        id: String,
        /// Now.
        now: u64,
    },
    /// Replaces a user's direct roles.
    SetRoles {
        /// The user.
        id: String,
        /// The roles.
        roles: Vec<String>,
    },
    /// Grants one role (changed: whether it is new).
    GrantRole {
        /// The user.
        id: String,
        /// The role.
        role: String,
    },
    /// Revokes one role (changed: whether the user had it).
    RevokeRole {
        /// The user.
        id: String,
        /// The role.
        role: String,
    },
    /// Defines or redefines a role.
    DefineRole {
        /// The definition.
        def: RoleDef,
        /// Now.
        now: u64,
    },
    /// Deletes a role (`InUse` while granted or inherited).
    DeleteRole {
        /// The role.
        name: String,
    },
    /// Revokes one live session of a user (`NotFound` if there is none).
    RevokeSession {
        /// The session.
        id: String,
        /// Its owner.
        user_id: String,
        /// Now.
        now: u64,
    },
    /// Revokes every live session of a user.
    RevokeSessions {
        /// The user.
        user_id: String,
        /// Now.
        now: u64,
    },
}

/// What [`AdminStore::apply`] did. Only `Done` wrote (with its event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeOutcome {
    /// Applied. `changed` tells whether a grant or revocation changed
    /// anything; `sessions` lists the sessions that ended.
    Done {
        /// Whether anything changed.
        changed: bool,
        /// Sessions revoked or deleted.
        sessions: Vec<String>,
    },
    /// The user or role does not exist: nothing written.
    NotFound,
    /// The role is granted or inherited: nothing written.
    InUse,
}

/// A page of users with their direct roles.
pub type UserPage = Vec<(User, Vec<String>)>;

/// Administration of users, roles and sessions.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// Users in (created_at, id) order after `after`, at most `limit`, with
    /// their direct roles.
    async fn list_users(
        &self,
        after: Option<(u64, String)>,
        limit: u32,
    ) -> Result<UserPage, StoreError>;
    /// Applies `change` and appends `event` in one transaction; an error or
    /// an outcome other than `Done` writes nothing.
    async fn apply(
        &self,
        change: &AdminChange,
        event: &AuditEvent,
    ) -> Result<ChangeOutcome, StoreError>;
    /// Applies every change with its event in one transaction (a bulk
    /// import): all or nothing; the first failure (`Conflict` for a taken
    /// email) rolls everything back.
    async fn apply_all(&self, changes: &[(AdminChange, AuditEvent)]) -> Result<(), StoreError>;
}

/// Groups (user columns + `role`) rows, already in user order, by user.
pub(super) fn group_roles(rows: Vec<(User, Option<String>)>) -> UserPage {
    let mut page: UserPage = Vec::new();
    for (user, role) in rows {
        match page.last_mut() {
            Some((last, roles)) if last.id == user.id => roles.extend(role),
            _ => page.push((user, role.into_iter().collect())),
        }
    }
    page
}

/// The one implementation of [`AdminStore`] and [`super::AuditStore`],
/// for a store type whose `$reader` and `$writer` pools run `$conn`
/// connections; also defines `insert_event`, which the backend's other
/// transactions (a login's session) use to append their event.
macro_rules! admin_store {
    ($store:ty, $conn:ty, $reader:ident, $writer:ident) => {
        use async_trait::async_trait;

        use crate::store::{
            AdminChange, AdminStore, AuditEvent, AuditQuery, AuditStore, ChangeOutcome,
            LoggedEvent, StoreError,
            admin::{UserPage, group_roles},
            rows::{StoreRow as _, backend, db_time, user_from},
        };

        /// Appends an event inside the caller's transaction.
        pub(super) async fn insert_event(
            conn: &mut $conn,
            e: &AuditEvent,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO audit_events (id, at, type, actor, target, ip, user_agent, \
                 request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&e.id)
            .bind(db_time(e.at))
            .bind(&e.kind)
            .bind(&e.actor)
            .bind(&e.target)
            .bind(&e.ip)
            .bind(&e.user_agent)
            .bind(&e.request_id)
            .bind(&e.detail)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
            Ok(())
        }

        async fn exec(
            conn: &mut $conn,
            sql: &'static str,
            binds: &[&str],
        ) -> Result<u64, StoreError> {
            let mut query = sqlx::query(sql);
            for value in binds {
                query = query.bind(*value);
            }
            Ok(query
                .execute(&mut *conn)
                .await
                .map_err(backend)?
                .rows_affected())
        }

        const GRANT: &str =
            "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING";

        /// Runs `sql` with (`first`, value) for every value.
        async fn exec_each(
            conn: &mut $conn,
            sql: &'static str,
            first: &str,
            values: &[String],
        ) -> Result<(), StoreError> {
            for value in values {
                exec(conn, sql, &[first, value]).await?;
            }
            Ok(())
        }

        async fn user_exists(conn: &mut $conn, id: &str) -> Result<bool, StoreError> {
            Ok(sqlx::query("SELECT 1 FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .is_some())
        }

        async fn revoke_all(
            conn: &mut $conn,
            user_id: &str,
            now: u64,
        ) -> Result<Vec<String>, StoreError> {
            sqlx::query_scalar(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
                 RETURNING id",
            )
            .bind(db_time(now))
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)
        }

        /// The change itself, inside the transaction.
        async fn run_change(
            conn: &mut $conn,
            change: &AdminChange,
        ) -> Result<ChangeOutcome, StoreError> {
            let done = |changed: bool| ChangeOutcome::Done {
                changed,
                sessions: Vec::new(),
            };
            Ok(match change {
                AdminChange::CreateUser { user, roles, mails } => {
                    sqlx::query(
                        "INSERT INTO users (id, email, name, password_hash, created_at, \
                         disabled_at) VALUES ($1, $2, $3, $4, $5, NULL)",
                    )
                    .bind(&user.id)
                    .bind(&user.email)
                    .bind(&user.name)
                    .bind(&user.password_hash)
                    .bind(db_time(user.created_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    exec_each(conn, GRANT, &user.id, roles).await?;
                    for mail in mails {
                        sqlx::query(
                            "INSERT INTO mail_outbox (id, kind, user_id, recipient, new_email, \
                             created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                        )
                        .bind(&mail.id)
                        .bind(&mail.kind)
                        .bind(&mail.user_id)
                        .bind(&mail.recipient)
                        .bind(&mail.new_email)
                        .bind(db_time(mail.created_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    }
                    done(true)
                }
                AdminChange::UpdateUser { id, email, name } => {
                    if !user_exists(conn, id).await? {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    if let Some(email) = email {
                        exec(
                            conn,
                            "UPDATE users SET email = $1 WHERE id = $2",
                            &[email, id],
                        )
                        .await?;
                    }
                    if let Some(name) = name {
                        sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
                            .bind(name)
                            .bind(id)
                            .execute(&mut *conn)
                            .await
                            .map_err(backend)?;
                    }
                    done(true)
                }
                AdminChange::SetDisabled { id, at } => {
                    let updated = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
                        .bind(at.map(db_time))
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if updated == 0 {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    let sessions = match at {
                        Some(now) => revoke_all(conn, id, *now).await?,
                        None => Vec::new(),
                    };
                    ChangeOutcome::Done {
                        changed: true,
                        sessions,
                    }
                }
                AdminChange::DeleteUser { id, now } => {
                    let sessions: Vec<String> = sqlx::query_scalar(
                        "INSERT INTO session_tombstones (session_id, revoked_at) \
                         SELECT id, COALESCE(revoked_at, $2) FROM sessions WHERE user_id = $1 \
                         ON CONFLICT (session_id) DO NOTHING RETURNING session_id",
                    )
                    .bind(id)
                    .bind(db_time(*now))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                    if exec(conn, "DELETE FROM users WHERE id = $1", &[id]).await? == 0 {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    ChangeOutcome::Done {
                        changed: true,
                        sessions,
                    }
                }
                AdminChange::SetRoles { id, roles } => {
                    if !user_exists(conn, id).await? {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    exec(conn, "DELETE FROM user_roles WHERE user_id = $1", &[id]).await?;
                    exec_each(conn, GRANT, id, roles).await?;
                    done(true)
                }
                AdminChange::GrantRole { id, role } => {
                    done(exec(conn, GRANT, &[id, role]).await? == 1)
                }
                AdminChange::RevokeRole { id, role } => done(
                    exec(
                        conn,
                        "DELETE FROM user_roles WHERE user_id = $1 AND role = $2",
                        &[id, role],
                    )
                    .await?
                        == 1,
                ),
                AdminChange::DefineRole { def, now } => {
                    sqlx::query(
                        "INSERT INTO roles (name, created_at) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&def.name)
                    .bind(db_time(*now))
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let name = def.name.as_str();
                    exec(conn, "DELETE FROM role_inherits WHERE role = $1", &[name]).await?;
                    exec(
                        conn,
                        "DELETE FROM role_permissions WHERE role = $1",
                        &[name],
                    )
                    .await?;
                    exec_each(
                        conn,
                        "INSERT INTO role_inherits (role, parent) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                        name,
                        &def.inherits,
                    )
                    .await?;
                    exec_each(
                        conn,
                        "INSERT INTO role_permissions (role, perm) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                        name,
                        &def.perms,
                    )
                    .await?;
                    done(true)
                }
                AdminChange::DeleteRole { name } => {
                    let used = sqlx::query(
                        "SELECT 1 FROM user_roles WHERE role = $1 UNION ALL \
                         SELECT 1 FROM role_inherits WHERE parent = $1 LIMIT 1",
                    )
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?
                    .is_some();
                    if used {
                        return Ok(ChangeOutcome::InUse);
                    }
                    if exec(conn, "DELETE FROM roles WHERE name = $1", &[name]).await? == 0 {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    done(true)
                }
                AdminChange::RevokeSession { id, user_id, now } => {
                    let revoked = sqlx::query(
                        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 \
                         AND revoked_at IS NULL",
                    )
                    .bind(db_time(*now))
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    if revoked == 0 {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    ChangeOutcome::Done {
                        changed: true,
                        sessions: vec![id.clone()],
                    }
                }
                AdminChange::RevokeSessions { user_id, now } => {
                    if !user_exists(conn, user_id).await? {
                        return Ok(ChangeOutcome::NotFound);
                    }
                    ChangeOutcome::Done {
                        changed: true,
                        sessions: revoke_all(conn, user_id, *now).await?,
                    }
                }
            })
        }

        #[async_trait]
        impl AdminStore for $store {
            async fn list_users(
                &self,
                after: Option<(u64, String)>,
                limit: u32,
            ) -> Result<UserPage, StoreError> {
                let rows = match &after {
                    None => {
                        sqlx::query(
                            "SELECT u.id, u.email, u.name, u.password_hash, u.created_at, \
                         u.disabled_at, u.email_verified_at, r.role FROM (\
                         SELECT * FROM users ORDER BY created_at, id LIMIT $1\
                         ) u LEFT JOIN user_roles r ON r.user_id = u.id \
                         ORDER BY u.created_at, u.id, r.role",
                        )
                        .bind(i64::from(limit))
                        .fetch_all(&self.$reader)
                        .await
                    }
                    Some((created_at, id)) => {
                        sqlx::query(
                            "SELECT u.id, u.email, u.name, u.password_hash, u.created_at, \
                         u.disabled_at, u.email_verified_at, r.role FROM (\
                         SELECT * FROM users WHERE created_at > $1 OR \
                         (created_at = $1 AND id > $2) ORDER BY created_at, id LIMIT $3\
                         ) u LEFT JOIN user_roles r ON r.user_id = u.id \
                         ORDER BY u.created_at, u.id, r.role",
                        )
                        .bind(db_time(*created_at))
                        .bind(id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.$reader)
                        .await
                    }
                }
                .map_err(backend)?;
                let rows = rows
                    .iter()
                    .map(|row| Ok((user_from(row)?, row.opt_text("role")?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(group_roles(rows))
            }

            async fn apply(
                &self,
                change: &AdminChange,
                event: &AuditEvent,
            ) -> Result<ChangeOutcome, StoreError> {
                let mut tx = self.$writer.begin().await.map_err(backend)?;
                let outcome = run_change(&mut tx, change).await?;
                if matches!(outcome, ChangeOutcome::Done { .. }) {
                    insert_event(&mut tx, event).await?;
                    tx.commit().await.map_err(backend)?;
                }
                Ok(outcome)
            }

            async fn apply_all(
                &self,
                changes: &[(AdminChange, AuditEvent)],
            ) -> Result<(), StoreError> {
                let mut tx = self.$writer.begin().await.map_err(backend)?;
                for (change, event) in changes {
                    if !matches!(
                        run_change(&mut tx, change).await?,
                        ChangeOutcome::Done { .. }
                    ) {
                        return Err(StoreError::NotFound);
                    }
                    insert_event(&mut tx, event).await?;
                }
                tx.commit().await.map_err(backend)
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
                let mut conn = self.$writer.acquire().await.map_err(backend)?;
                insert_event(&mut conn, event).await
            }

            async fn audit_events(
                &self,
                query: &AuditQuery,
            ) -> Result<Vec<LoggedEvent>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, id, at, type, actor, target, ip, user_agent, request_id, detail \
                     FROM audit_events WHERE seq > $1 AND at >= $2 \
                     AND ($3 = '' OR type = $3) AND ($4 = '' OR actor = $4 OR target = $4) \
                     ORDER BY seq LIMIT $5",
                )
                .bind(query.after.map_or(0, db_time))
                .bind(query.since.map_or(0, db_time))
                .bind(query.kind.as_deref().unwrap_or_default())
                .bind(query.user.as_deref().unwrap_or_default())
                .bind(i64::from(query.limit))
                .fetch_all(&self.$reader)
                .await
                .map_err(backend)?;
                rows.iter()
                    .map(|row| {
                        Ok(LoggedEvent {
                            seq: row.time("seq")?,
                            event: AuditEvent {
                                id: row.text("id")?,
                                at: row.time("at")?,
                                kind: row.text("type")?,
                                actor: row.text("actor")?,
                                target: row.opt_text("target")?,
                                ip: row.opt_text("ip")?,
                                user_agent: row.opt_text("user_agent")?,
                                request_id: row.opt_text("request_id")?,
                                detail: row.text("detail")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn purge_audit(&self, before: u64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
                    .bind(db_time(before))
                    .execute(&self.$writer)
                    .await
                    .map_err(backend)?
                    .rows_affected())
            }
        }
    };
}

pub(super) use admin_store;
