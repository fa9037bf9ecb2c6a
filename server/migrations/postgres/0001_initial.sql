-- edgeauth, PostgreSQL schema 1. Append-only: never edit a migration that
-- has shipped; add the next numbered file instead. This mirrors
-- ../sqlite/0001_initial.sql table for table and column for column, with
-- BIGINT for INTEGER times, BYTEA for BLOBs and TEXT for text, so both
-- backends answer the same `Store` calls alike. Two additions guard
-- invariants that SQLite gets from its single writer and that several
-- server instances sharing this database could otherwise break; they are
-- marked below.

-- Accounts. `email` is stored normalised (trimmed, lowercase) so the
-- unique index is the duplicate check.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    password_hash TEXT NOT NULL,           -- argon2id PHC string
    created_at    BIGINT NOT NULL
);

-- Role definitions: a role grants permissions and includes the roles it
-- inherits (their permissions and names), expanded into access tokens.
CREATE TABLE roles (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_inherits (
    role   TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    parent TEXT NOT NULL,
    PRIMARY KEY (role, parent)
);

CREATE TABLE role_permissions (
    role TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    perm TEXT NOT NULL,
    PRIMARY KEY (role, perm)
);

-- Roles granted to users. A granted role need not be defined: then it
-- carries its name and no permissions.
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Ed25519 signing keys. The seed is sealed (XChaCha20-Poly1305) under a key
-- derived from the master key, bound to the kid. Exactly one key has
-- retired_at NULL (the signer); retired keys stay published until every
-- token they signed has expired.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    public_key  BYTEA NOT NULL,
    sealed_seed BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

-- PostgreSQL only: at most one signer, enforced. Two instances starting on
-- an empty database at once both try to create the first key; the loser's
-- conditional insert conflicts here and does nothing.
CREATE UNIQUE INDEX signing_keys_one_signer ON signing_keys ((retired_at IS NULL))
    WHERE retired_at IS NULL;

-- Sessions: one refresh-token family each. expires_at slides on refresh
-- and never passes absolute_expires_at.
CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    revoked_at          BIGINT,
    user_agent          TEXT
);

CREATE INDEX sessions_by_user ON sessions (user_id, last_used_at);

-- Refresh tokens, by SHA-256 only. A row is the token's whole life: created
-- unused, marked used (once, by a conditional UPDATE) when rotated. The
-- successor's value is derived from the parent's with a keyed hash, so no
-- plaintext token is ever stored, and a retry inside the grace window
-- yields the same successor.
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- PostgreSQL only: UNIQUE where SQLite has a plain index on session_id. A
-- family is a chain, one token per generation, so a second live branch
-- cannot even be written, whatever the instances do.
CREATE UNIQUE INDEX refresh_tokens_by_session ON refresh_tokens (session_id, generation);
