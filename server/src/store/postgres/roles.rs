//! Roles on PostgreSQL.

use async_trait::async_trait;

use super::{PgStore, commit};
use crate::store::{
    RoleDef, RoleStore, StoreError,
    rows::{backend, db_time, role_definitions},
};

#[async_trait]
impl RoleStore for PgStore {
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
}
