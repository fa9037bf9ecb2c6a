//! Administration and the audit log on SQLite: the shared implementation
//! (`store/admin.rs`) over the writer and reader pools.

super::super::admin::admin_store!(super::SqliteStore, sqlx::SqliteConnection, reader, writer);
