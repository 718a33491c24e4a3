-- The resource server's app database: users as synced from the auth server, and their notes.
-- Times are Unix milliseconds (UTC) in BIGINT columns, as in the auth database.

-- +goose Up
CREATE TABLE app_users (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    email      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    deleted    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE applied_events (
    event_id   TEXT PRIMARY KEY,
    applied_at BIGINT NOT NULL
);

CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_user_idx ON notes (user_id, created_at);

-- +goose Down
DROP TABLE notes;
DROP TABLE applied_events;
DROP TABLE app_users;
