-- Email (CONTRACT §11): whether a user's address is verified, the single-use tokens sent in
-- mails (stored only as hashes), and the mail queue: one row per mail, written in the
-- transaction of the change that causes it and sent by the mail relay with retries and leases.

-- +goose Up
ALTER TABLE users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;

CREATE TABLE mail_tokens (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_tokens_user_idx ON mail_tokens (user_id, kind);
CREATE INDEX mail_tokens_expires_idx ON mail_tokens (expires_at);

-- kind: "verify" or "reset". The bodies carry the token's link until the mail is sent, then
-- are emptied.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    user_id         TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL DEFAULT '',
    text_body       TEXT NOT NULL DEFAULT '',
    html_body       TEXT NOT NULL DEFAULT '',
    link            TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at         BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at = 0;
CREATE INDEX mail_outbox_sent_idx ON mail_outbox (sent_at) WHERE sent_at > 0;

-- /password/forgot requests, waiting for the relay to look the address up and, when it is known
-- and not throttled, queue the reset mail: so the request itself does the same work (this one
-- insert) for a known and an unknown address. The address is emptied once resolved.
CREATE TABLE mail_requests (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL,
    client_ip   TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT NOT NULL DEFAULT 0,
    outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_requests_pending_idx ON mail_requests (created_at) WHERE resolved_at = 0;
CREATE INDEX mail_requests_resolved_idx ON mail_requests (resolved_at) WHERE resolved_at > 0;

-- +goose Down
DROP TABLE mail_requests;
DROP TABLE mail_outbox;
DROP TABLE mail_tokens;
ALTER TABLE users DROP COLUMN email_verified;
