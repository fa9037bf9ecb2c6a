-- edgeauth, SQLite schema 3: a session remembers how its user signed in,
-- so that every access token of the session, refreshed ones included,
-- carries the same `amr` (RFC 8176 authentication methods) and `tid`.
-- Mirrored by ../postgres/0003_session_amr.sql.
--
-- `amr` is a JSON array of strings (`["pwd"]`, later e.g. `["pwd","otp"]`):
-- unambiguous whatever a method's name contains, in the order the claim
-- lists them, read and written alike by both backends. Sessions created
-- before this migration were all password sign-ins, so they get `["pwd"]`.
-- (SQLite cannot drop a column default without rebuilding the table, so the
-- default stays here; the store writes `amr` on every insert.)
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';

-- The tenant the session was opened in; NULL until tenants exist.
ALTER TABLE sessions ADD COLUMN tid TEXT;
