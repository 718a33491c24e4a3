package db

// The refresh's two statements as PL/pgSQL functions: migration 13, on PostgreSQL only.
//
// PostgreSQL parses and plans a statement each time it runs unless it was prepared by name on
// the server connection, and behind a transaction-mode pooler nothing is (see
// PreparedStatements). For the refresh that cost PostgreSQL more CPU than running the
// statements: its join of three tables and its writable CTE took 1.4 ms of planning against
// 0.2 ms of work (pgbench, extended against prepared). PL/pgSQL keeps the plans of the
// statements in a function for the life of the server connection, whoever calls it, so a
// function's call is cheap to plan and its body is planned once per connection. The store
// calls them on PostgreSQL in every mode (DB.StoredFunctions); SQLite runs the same statements
// as SQL of its own (auth-server/internal/store/refresh.go keeps both, and the store's tests
// run on both databases).
//
// A migration is history: to change a function, a later migration replaces it.

// refreshStateFunction is refreshSelect of the store: a token, its session and the session's
// user by the token's hash, in the order the store scans them. STABLE: it reads with its
// caller's snapshot, as the one statement it replaces did.
const refreshStateFunction = `CREATE FUNCTION refresh_state(p_hash text) RETURNS TABLE (
 token_hash text, session_id text, parent_hash text, token_created_at bigint, token_expires_at bigint, spent_at bigint, child_sealed text,
 user_id text, session_created_at bigint, last_used_at bigint, session_expires_at bigint, idle_expires_at bigint, revoked_at bigint,
 revoke_reason text, user_agent text, ip text, client_id text, scope text, auth_time bigint, amr text,
 username text, email text, password_hash text, version bigint, user_created_at bigint, user_updated_at bigint, roles text,
 disabled_at bigint, tokens_not_before bigint, email_verified bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
 RETURN QUERY SELECT t.token_hash, t.session_id, t.parent_hash, t.created_at, t.expires_at, t.spent_at, t.child_sealed,
  s.user_id, s.created_at, s.last_used_at, s.expires_at, s.idle_expires_at, s.revoked_at, s.revoke_reason, s.user_agent, s.ip,
  s.client_id, s.scope, s.auth_time, s.amr,
  u.username, u.email, u.password_hash, u.version, u.created_at, u.updated_at, u.roles, u.disabled_at, u.tokens_not_before,
  u.email_verified
  FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
  WHERE t.token_hash = p_hash;
END $$`

// refreshRotateFunction is rotatePG of the store: if the token is still unspent and its
// session still not revoked, it locks both rows (in that order), spends the token, touches the
// session and inserts the child; it returns the rows inserted, 1 or 0 (nothing changed).
const refreshRotateFunction = `CREATE FUNCTION refresh_rotate(p_hash text, p_now bigint, p_sealed text, p_expires bigint, p_child text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE n bigint;
BEGIN
 WITH cur AS (
  SELECT t.token_hash, t.session_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
  WHERE t.token_hash = p_hash AND t.spent_at = 0 AND s.revoked_at = 0
  FOR UPDATE OF t FOR NO KEY UPDATE OF s
 ), spend AS (
  UPDATE refresh_tokens r SET spent_at = p_now, child_sealed = p_sealed FROM cur WHERE r.token_hash = cur.token_hash RETURNING r.token_hash
 ), touch AS (
  UPDATE sessions s SET last_used_at = p_now, idle_expires_at = p_expires FROM cur WHERE s.id = cur.session_id RETURNING s.id
 )
 INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, created_at, expires_at)
 SELECT p_child, touch.id, spend.token_hash, p_now, p_expires FROM spend, touch;
 GET DIAGNOSTICS n = ROW_COUNT;
 RETURN n;
END $$`

var (
	refreshFunctions     = []string{refreshStateFunction, refreshRotateFunction}
	dropRefreshFunctions = []string{
		`DROP FUNCTION refresh_rotate(text, bigint, text, bigint, text)`,
		`DROP FUNCTION refresh_state(text)`,
	}
)

// StoredFunctions reports whether the refresh's statements are the stored functions
// refresh_state and refresh_rotate of migration 13 (PostgreSQL), rather than SQL the store
// sends (SQLite).
func (d *DB) StoredFunctions() bool { return len(d.flavor.functions) > 0 }
