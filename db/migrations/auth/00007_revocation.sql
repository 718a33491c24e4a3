-- Revocation that reaches the resource servers (docs/revocation.md). users.tokens_not_before
-- (Unix milliseconds, 0 for none) is the instant before which no access token of the user is
-- valid any more: set, rounded up to a whole second, when the user is disabled or their roles
-- change, and sent to the resource servers as user.revoked. Tokens issued afterwards carry an
-- iat of at least it, so a resource server comparing whole seconds tells them apart.
-- sessions_revoked_idx serves `sync replay`, which re-sends the revocations still in force.

-- +goose Up
ALTER TABLE users ADD COLUMN tokens_not_before BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at > 0;
CREATE INDEX users_tokens_not_before_idx ON users (tokens_not_before) WHERE tokens_not_before > 0;

-- +goose Down
DROP INDEX users_tokens_not_before_idx;
DROP INDEX sessions_revoked_idx;
ALTER TABLE users DROP COLUMN tokens_not_before;
