//! Signing keys on SQLite.

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

use super::{SqliteStore, commit};
use crate::store::{
    AuditEvent, KeyStore, StoreError, StoredKey,
    rows::{StoreRow as _, backend, db_time},
};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, public_key, sealed_seed, created_at, \
               COALESCE(activates_at, created_at) AS activates_at, retired_at \
             FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: row.text("kid")?,
                    public_key: row.bytes("public_key")?,
                    sealed_seed: row.bytes("sealed_seed")?,
                    created_at: row.time("created_at")?,
                    activates_at: row.time("activates_at")?,
                    retired_at: row.opt_time("retired_at")?,
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

    async fn schedule_key(
        &self,
        key: &StoredKey,
        now: u64,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // SQLite has one writer: the transaction is the lock.
        let waiting: Option<String> = sqlx::query_scalar(
            "SELECT kid FROM signing_keys WHERE COALESCE(activates_at, created_at) > ? LIMIT 1",
        )
        .bind(db_time(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if waiting.is_some() {
            return Ok(false);
        }
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")
            .bind(db_time(key.activates_at))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_key(&mut tx, key).await?;
        if let Some(event) = event {
            super::admin::insert_event(&mut tx, event).await?;
        }
        commit(tx).await?;
        Ok(true)
    }

    async fn replace_keys_now(
        &self,
        key: &StoredKey,
        now: u64,
        event: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NULL OR retired_at > ?")
            .bind(db_time(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_key(&mut tx, key).await?;
        if let Some(event) = event {
            super::admin::insert_event(&mut tx, event).await?;
        }
        commit(tx).await
    }
}

/// Inserts a key that has no retirement yet.
async fn insert_key(
    tx: &mut Transaction<'static, Sqlite>,
    key: &StoredKey,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, public_key, sealed_seed, created_at, activates_at, retired_at) \
         VALUES (?, ?, ?, ?, ?, NULL)",
    )
    .bind(&key.kid)
    .bind(&key.public_key)
    .bind(&key.sealed_seed)
    .bind(db_time(key.created_at))
    .bind(db_time(key.activates_at))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}
