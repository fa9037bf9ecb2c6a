//! Accounts on SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::{
    StoreError, User, UserStore,
    rows::{backend, db_time, user_columns, user_from},
};

impl SqliteStore {
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
}

#[async_trait]
impl UserStore for SqliteStore {
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
}
