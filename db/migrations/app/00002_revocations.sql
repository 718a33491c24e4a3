-- The resource server's deny-list (docs/revocation.md): the revocations the auth server sent
-- (session.revoked: kind 'session', id the sid; user.revoked: kind 'user', id the sub, with
-- not_before), kept until expires_at, when every token they cover has expired. Replicas on one
-- app database read what another applied by applied_at; occurred_at is when the auth server
-- made the event (the lag metric). Times are Unix milliseconds.

-- +goose Up
CREATE TABLE revocations (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    not_before  BIGINT NOT NULL DEFAULT 0,
    expires_at  BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    applied_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX revocations_applied_idx ON revocations (applied_at);
CREATE INDEX revocations_expires_idx ON revocations (expires_at);

-- +goose Down
DROP TABLE revocations;
