-- edgeauth, SQLite schema 8: the sessions of deleted users stay in the
-- revocation feed. Mirrored by ../postgres/0008_session_tombstones.sql.
--
-- Deleting a user deletes its sessions (ON DELETE CASCADE), and with them
-- the revoked_at the feed is built from, while their access tokens may
-- still be unexpired at the edge. So the deletion first records each of
-- its sessions here, revoked at the deletion (or earlier, when it already
-- was); the feed lists these beside the revoked sessions, and the hourly
-- purge drops them after EDGEAUTH_SESSION_PURGE_AFTER.
CREATE TABLE session_tombstones (
    session_id TEXT PRIMARY KEY,
    revoked_at INTEGER NOT NULL
);

CREATE INDEX session_tombstones_by_revocation ON session_tombstones (revoked_at);
