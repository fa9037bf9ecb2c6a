//! The revocation feed's source on PostgreSQL: the shared implementation
//! (`store/revocations.rs`).

super::super::revocations::revocation_store!(super::PgStore, pool, pool);
