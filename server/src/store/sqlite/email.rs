//! Email flows and the outbox on SQLite: the shared implementation
//! (`store/email.rs`). The one writer connection serialises every claim,
//! so a conditional `UPDATE ... RETURNING` is the whole lease protocol.

super::super::email::email_store!(super::SqliteStore, sqlx::Sqlite, reader, writer, "", "");
