-- edgeauth, PostgreSQL schema 2: failed sign-ins, kept in the database so
-- that the throttle is shared by every instance (N instances must not allow
-- N times the failures) and survives restarts. Mirrors
-- ../sqlite/0002_login_failures.sql. Keyed by a hash of the normalised
-- email, never the text itself (people type passwords into email fields).
-- Counted in fixed windows: a failure after `window_start + LOGIN_WINDOW`
-- starts a new window. Rows whose window ended are deleted as failures are
-- recorded.
CREATE TABLE login_failures (
    key_hash     BYTEA PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);

CREATE INDEX login_failures_by_start ON login_failures (window_start);
