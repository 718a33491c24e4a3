-- Multi-factor authentication (CONTRACT §13): a user's TOTP secret, sealed with
-- KEY_ENCRYPTION_KEY, and the last time step a code was accepted for (so a code is accepted
-- at most once, across replicas); single-use recovery codes, stored only as hashes; the
-- pending second steps of password logins (mfa_token, stored only as a hash); and how each
-- session was authenticated (amr), which its refreshes keep.

-- +goose Up
CREATE TABLE mfa_totp (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- 0 while enrolment awaits its confirming code: only a confirmed secret is a factor
    confirmed_at  BIGINT NOT NULL DEFAULT 0,
    -- the RFC 6238 time step of the last accepted code; a code of this step or an earlier one
    -- is refused
    last_step     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE mfa_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

-- space-separated RFC 8176 methods; '' for sessions started before this migration (password)
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN amr;
DROP TABLE mfa_challenges;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
