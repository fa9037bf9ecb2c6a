-- edgeauth, SQLite schema 7: the admin API and the audit log.
-- Mirrored by ../postgres/0007_admin_audit.sql. (Schema 6 is the email
-- flows'; the two are independent and apply in either order.)
--
-- A disabled account keeps its row; `disabled_at` is when it was disabled
-- (NULL: enabled). Its login answers like a wrong password.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- The admin API lists users by (created_at, id), a keyset cursor.
CREATE INDEX users_by_created ON users (created_at, id);

-- The audit log, append-only: one row per security-relevant action,
-- written in the transaction of the action. `seq` orders it (oldest
-- first) and is the cursor of GET /admin/v1/audit; `id` is the event's
-- public id. `detail` is a JSON object. No secret ever goes here.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    target     TEXT,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL
);

-- Retention deletes by age.
CREATE INDEX audit_events_by_at ON audit_events (at);
