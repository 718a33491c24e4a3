-- The user-sync outbox: one row per user change, written in the change's transaction, and one
-- delivery row per (event, target).

-- +goose Up
CREATE TABLE outbox_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_events_user_idx ON outbox_events (user_id, version);

CREATE TABLE outbox_deliveries (
    event_id        TEXT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, target)
);
CREATE INDEX outbox_deliveries_pending_idx ON outbox_deliveries (delivered_at, next_attempt_at);
CREATE INDEX outbox_deliveries_user_idx ON outbox_deliveries (target, user_id, version);

-- +goose Down
DROP TABLE outbox_deliveries;
DROP TABLE outbox_events;
