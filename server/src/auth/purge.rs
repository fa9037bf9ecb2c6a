//! The purge of ended sessions. A session that was revoked, or that
//! expired, is kept for `after` seconds (long enough to answer a late
//! refresh with `refresh_token_reused` rather than as unknown, and for the
//! records of recent revocations), then deleted with its refresh tokens.
//! Live sessions are never touched; their rows stay bounded by the
//! rotation cap and the session lifetime.
//!
//! Deletion goes in batches, each its own short transaction, so a purge
//! never holds the database for long; several instances purging at once
//! only share the work.

use super::AuthError;
use crate::store::Store;

/// Sessions deleted per transaction.
const BATCH: u32 = 1000;

/// Deletes every session that ended more than `after` seconds before
/// `now`, and the tombstones of deleted users' sessions as old; returns
/// how many sessions went.
pub(crate) async fn ended_sessions(
    store: &dyn Store,
    now: u64,
    after: u64,
) -> Result<u64, AuthError> {
    let before = now.saturating_sub(after);
    store.purge_tombstones(before).await?;
    let mut total = 0;
    loop {
        let gone = store.purge_sessions(before, BATCH).await?;
        total += gone;
        if gone < u64::from(BATCH) {
            return Ok(total);
        }
    }
}
