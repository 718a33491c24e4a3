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
CREATE INDEX outbox_events_created_idx ON outbox_events (created_at);

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
-- Partial indexes over the pending rows only (both databases support them; queries repeat the
-- literal predicate so the planner uses them). The relay's claim walks due_idx in its ORDER BY
-- (next_attempt_at, version) and, per candidate, looks up the user's lowest pending version in
-- user_idx; see ClaimDeliveries. Updates of claimed rows go through the primary key (see
-- stillPending). delivered_idx serves the purge of delivered rows.
CREATE INDEX outbox_deliveries_due_idx ON outbox_deliveries (target, next_attempt_at, version) WHERE delivered_at = 0;
CREATE INDEX outbox_deliveries_user_idx ON outbox_deliveries (target, user_id, version) WHERE delivered_at = 0;
CREATE INDEX outbox_deliveries_delivered_idx ON outbox_deliveries (delivered_at) WHERE delivered_at > 0;

-- +goose Down
DROP TABLE outbox_deliveries;
DROP TABLE outbox_events;
