//! The revocation feed's source on SQLite: the shared implementation
//! (`store/revocations.rs`).

super::super::revocations::revocation_store!(super::SqliteStore, reader, writer);
