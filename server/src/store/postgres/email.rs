//! Email flows and the outbox on PostgreSQL: the shared implementation
//! (`store/email.rs`). Claims lock the rows they take with `FOR UPDATE
//! SKIP LOCKED`, so instances claiming at once take disjoint rows; a spent
//! link is locked (`FOR UPDATE`) while its effect applies.

super::super::email::email_store!(
    super::PgStore,
    sqlx::Postgres,
    pool,
    pool,
    " FOR UPDATE OF t",
    " FOR UPDATE SKIP LOCKED"
);
