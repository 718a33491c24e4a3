-- The resource server's app database: users as synced from the auth server, and their notes.
-- Times are Unix milliseconds (UTC) in BIGINT columns, as in the auth database.
-- app_users.version is the auth server's version of the user (0: made from a token's claims
-- before the first sync); deleted = 1 marks a tombstone that keeps the version of the delete.
-- applied_events remembers event ids for AppliedEventsRetention (pruned by applied_at).

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
CREATE INDEX applied_events_applied_at_idx ON applied_events (applied_at);

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
