-- The authorization code flow and the hosted pages (CONTRACT §12, docs/oauth.md).
-- authorization_codes: a code is stored only as its hash, bound to its client, redirect URI,
-- PKCE challenge (S256) and nonce, single-use, 60 s; session_id is the session its exchange
-- started, revoked when the code is presented again.
-- sessions.cookie_hash: a browser's login session (the hosted pages' cookie, by hash), a
-- session of its own with no refresh token, listed in GET /sessions. sessions.auth_time: when
-- the user authenticated, for sessions whose tokens carry ID tokens (started by a code).
-- clients.id_token_alg: the algorithm of a client's ID tokens ('' for RS256).

-- +goose Up
CREATE TABLE authorization_codes (
    code_hash        TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    redirect_uri     TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    login_session_id TEXT NOT NULL,
    scope            TEXT NOT NULL,
    code_challenge   TEXT NOT NULL,
    nonce            TEXT NOT NULL DEFAULT '',
    auth_time        BIGINT NOT NULL,
    amr              TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT NOT NULL DEFAULT 0,
    session_id       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
CREATE INDEX authorization_codes_user_idx ON authorization_codes (user_id);

ALTER TABLE sessions ADD COLUMN cookie_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX sessions_cookie_idx ON sessions (cookie_hash) WHERE cookie_hash <> '';
ALTER TABLE sessions ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;

ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN id_token_alg;
ALTER TABLE sessions DROP COLUMN auth_time;
DROP INDEX sessions_cookie_idx;
ALTER TABLE sessions DROP COLUMN cookie_hash;
DROP TABLE authorization_codes;
