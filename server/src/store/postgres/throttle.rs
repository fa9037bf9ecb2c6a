//! The login throttle on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::store::{
    StoreError, ThrottleStore,
    rows::{backend, db_time, from_db_time},
};

#[async_trait]
impl ThrottleStore for PgStore {
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
}
