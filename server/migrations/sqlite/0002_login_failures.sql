-- edgeauth, SQLite schema 2: failed sign-ins, kept in the database so that
-- the throttle survives a restart and is shared by every process using it.
-- Keyed by a hash of the normalised email, never the text itself (people
-- type passwords into email fields). Counted in fixed windows: a failure
-- after `window_start + LOGIN_WINDOW` starts a new window. Rows whose
-- window ended are deleted as failures are recorded.
CREATE TABLE login_failures (
    key_hash     BLOB PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);

CREATE INDEX login_failures_by_start ON login_failures (window_start);
