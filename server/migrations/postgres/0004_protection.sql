-- edgeauth, PostgreSQL schema 4: indexes for account protection.
-- Mirrored by ../sqlite/0004_protection.sql.
--
-- The rotation cap counts a session's refresh tokens created within the
-- last minute at every rotation: (session_id, created_at) makes that a
-- short range scan. (Unlike SQLite's, the older index on (session_id,
-- generation) stays: it is unique, and keeps a family to one branch.)
CREATE INDEX refresh_tokens_by_session_time ON refresh_tokens (session_id, created_at);

-- The purge of ended sessions finds them by revocation or by expiry.
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
