//! Accounts on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::store::{
    StoreError, User, UserStore,
    rows::{backend, db_time, user_columns, user_from},
};

impl PgStore {
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
}

#[async_trait]
impl UserStore for PgStore {
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
}
