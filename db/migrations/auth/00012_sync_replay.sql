-- `auth-server sync replay` without the outbox (docs/user-sync.md): one row per target being
-- replayed. The relay of whichever replica holds the lease reads the users after after_id in
-- id order straight from the users table, sends them, and moves after_id on; the row is
-- deleted when the last user is acknowledged. id names this replay: a new `sync replay`
-- restarts the cursor, and the old holder's next advance (which names the old id) changes
-- nothing. attempts counts consecutive failed calls (the backoff), reset by an advance.

-- +goose Up
CREATE TABLE sync_replays (
    target      TEXT PRIMARY KEY,
    id          TEXT NOT NULL,
    after_id    TEXT NOT NULL DEFAULT '',
    sent        BIGINT NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE sync_replays;
