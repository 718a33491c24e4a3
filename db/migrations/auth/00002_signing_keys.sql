-- Signing keys and the key-set version that replicas poll to notice a change.

-- +goose Up
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL,
    public_jwk     TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT NOT NULL DEFAULT 0,
    retired_at     BIGINT NOT NULL DEFAULT 0,
    revoked_at     BIGINT NOT NULL DEFAULT 0
);

-- One row; every change to signing_keys bumps version in the same transaction, and the row is
-- the lock that makes key updates compare-and-swap.
CREATE TABLE key_set (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO key_set (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE key_set;
DROP TABLE signing_keys;
