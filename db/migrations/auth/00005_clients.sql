-- Registered OAuth clients (CONTRACT §9), the roles and state of users, and the client and scope
-- each session was granted. Lists (URIs, grants, scopes, roles) are stored space-separated:
-- none of their items may contain a space.

-- +goose Up
CREATE TABLE clients (
    client_id        TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    confidential     BIGINT NOT NULL DEFAULT 0,
    secret_hash      TEXT NOT NULL DEFAULT '',
    redirect_uris    TEXT NOT NULL DEFAULT '',
    post_logout_uris TEXT NOT NULL DEFAULT '',
    grants           TEXT NOT NULL DEFAULT '',
    scopes           TEXT NOT NULL DEFAULT '',
    default_scopes   TEXT NOT NULL DEFAULT '',
    roles            TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX clients_name_lower_key ON clients (lower(name));

ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_login_at BIGINT NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT 'first-party';
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_client_idx ON sessions (client_id);
-- Sessions started before clients existed were first-party ones with its default scopes.
UPDATE sessions SET scope = 'openid profile email notes:read notes:write';

-- who did it: "user:<id>" for an admin through the API, "cli" for the operator's CLI
ALTER TABLE audit_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_event_idx ON audit_events (event, at);

-- +goose Down
DROP INDEX audit_events_event_idx;
ALTER TABLE audit_events DROP COLUMN actor;
DROP INDEX sessions_client_idx;
ALTER TABLE sessions DROP COLUMN scope;
ALTER TABLE sessions DROP COLUMN client_id;
ALTER TABLE users DROP COLUMN last_login_at;
ALTER TABLE users DROP COLUMN disabled_at;
ALTER TABLE users DROP COLUMN roles;
DROP TABLE clients;
