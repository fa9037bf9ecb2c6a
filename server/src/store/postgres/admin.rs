//! Administration and the audit log on PostgreSQL: the shared
//! implementation (`store/admin.rs`) over the pool.

super::super::admin::admin_store!(super::PgStore, sqlx::PgConnection, pool, pool);
