-- edgeauth, PostgreSQL schema 3: a session remembers how its user signed
-- in, so that every access token of the session, refreshed ones included,
-- carries the same `amr` (RFC 8176 authentication methods) and `tid`.
-- Mirrors ../sqlite/0003_session_amr.sql.
--
-- `amr` is a JSON array of strings in TEXT (`["pwd"]`, later e.g.
-- `["pwd","otp"]`), as on SQLite, so both backends read and write it
-- alike. Sessions created before this migration were all password
-- sign-ins, so they get `["pwd"]` (a constant default: no table rewrite).
-- The default is then dropped, so that an insert that forgets the column
-- fails instead of claiming a password sign-in; SQLite keeps its default
-- (it cannot drop one without rebuilding the table).
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';
ALTER TABLE sessions ALTER COLUMN amr DROP DEFAULT;

-- The tenant the session was opened in; NULL until tenants exist.
ALTER TABLE sessions ADD COLUMN tid TEXT;
