-- Refresh sessions (token families) and their refresh tokens, stored only as hashes.

-- +goose Up
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    -- when the newest refresh token of the session expires (REFRESH_IDLE_TTL after its last
    -- rotation): past it no token of the session can refresh, so it is dead and swept.
    idle_expires_at BIGINT NOT NULL DEFAULT 0,
    revoked_at    BIGINT NOT NULL DEFAULT 0,
    revoke_reason TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_idle_expires_idx ON sessions (idle_expires_at);

CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_hash  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    spent_at     BIGINT NOT NULL DEFAULT 0,
    child_sealed TEXT NOT NULL DEFAULT ''
);
-- One index serves both a session's tokens (the cleanup, the cascade) and a token's child
-- (looked up by its session and parent): a rotation inserts into one index fewer.
CREATE INDEX refresh_tokens_session_parent_idx ON refresh_tokens (session_id, parent_hash);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
