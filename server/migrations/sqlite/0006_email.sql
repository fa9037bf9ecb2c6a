-- edgeauth, SQLite schema 6: email flows. Mirrored by ../postgres/0006_email.sql.
--
-- `users.email_verified_at`: when the user last proved control of the
-- current address (a verification, reset, magic or change link); NULL
-- for never. An email change sets it, since the link went to the new
-- address.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

-- Links sent by mail. Only the SHA-256 of the 32 random bytes is kept.
-- One purpose each (verify, reset, magic_link, email_change), bound to a
-- user and to the address it was sent to (`email`: a link stops working
-- once the account's address is another). Single use: spending one is a
-- conditional `UPDATE ... WHERE used_at IS NULL`. `outbox_id` is the mail
-- that carried it: a retried mail replaces its unused token.
CREATE TABLE mail_tokens (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    outbox_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX mail_tokens_by_outbox ON mail_tokens (outbox_id);
CREATE INDEX mail_tokens_by_expiry ON mail_tokens (expires_at);

-- The outbox: each row is one mail to send, committed with its cause. A
-- row names what to send (`kind`) and to whom; the sender renders it and
-- mints its link at send time, so no link ever sits in the database in
-- clear. `state`: pending -> sent, or failed (attempts exhausted), or
-- dropped (nothing to send: an unknown address for a reset or magic
-- link, a deleted account). A sender claims a pending, due row by setting
-- `lease_owner` and `lease_until`; only the lease owner may finish it.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         TEXT,
    recipient       TEXT NOT NULL,
    new_email       TEXT,
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    finished_at     INTEGER,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE state <> 'pending';
