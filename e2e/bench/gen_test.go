package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestGeneratedDatabase fills small databases of both stores with the generator and shows
// the servers accept its rows: a generated user logs in with the password of the shared
// argon2id hash and refreshes, the session cleanup deletes exactly the generated ended
// sessions (and keeps the live and revoked ones), and the resource server's /me answers a
// generated app user's row.
func TestGeneratedDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := binaries(t, ctx, dir)
	hash, err := GenPasswordHash(benchPassword, argon2Params)
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string][2]string{"sqlite": {"sqlite:" + dir + "/auth.db", "sqlite:" + dir + "/app.db"}}
	if os.Getenv(testdb.EnvVar) != "" {
		stores["postgres"] = [2]string{testdb.PostgresURL(t), testdb.PostgresURL(t)}
	}
	for name, urls := range stores {
		t.Run(name, func(t *testing.T) { testGenerated(t, ctx, bin, filepath.Join(dir, name), urls[0], urls[1], hash) })
	}
}

func testGenerated(t *testing.T, ctx context.Context, bin, dir, authURL, appURL, hash string) {
	const n = 1000
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	auth := openMigrated(t, ctx, authURL, db.AuthSchema)
	tables := []string{"users", "sessions", "refresh_tokens"}
	before, err := secondaryIndexes(ctx, auth, tables)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FillAuth(ctx, authURL, n, hash, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (GenCounts{Users: n, Sessions: genSessionsPerUser * n, Tokens: genTokensPerUser * n}); got != want {
		t.Fatalf("FillAuth wrote %+v, want %+v", got, want)
	}
	if err := AddEndedSessions(ctx, authURL, n, n, now); err != nil {
		t.Fatal(err)
	}
	if after, err := secondaryIndexes(ctx, auth, tables); err != nil || !slices.Equal(after, before) {
		t.Fatalf("indexes after the fill: %v, %v; before: %v", after, err, before)
	}
	// The foreign keys the load did not check row by row hold.
	for _, q := range []string{`SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`,
		`SELECT count(*) FROM refresh_tokens t WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id)`} {
		if c := count(t, auth, q); c != 0 {
			t.Errorf("%s: %d", q, c)
		}
	}
	for table, want := range map[string]int{"users": n, "sessions": 3 * n, "refresh_tokens": 6 * n} {
		if c := count(t, auth, "SELECT count(*) FROM "+table); c != want {
			t.Errorf("%s holds %d rows, want %d", table, c, want)
		}
	}
	_ = openMigrated(t, ctx, appURL, db.AppSchema)
	if err := FillApp(ctx, appURL, n, now); err != nil {
		t.Fatal(err)
	}

	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	dead, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	as, err := Start(ctx, Spec{Name: "auth-server", Path: bin + "/auth-server", Dir: dir, Listening: authListening,
		Env: []string{"AUTH_ADDR=127.0.0.1:0", "AUTH_DATABASE_URL=" + authURL, "AUTH_ISSUER=" + issuer, "AUTH_AUDIENCE=" + audience,
			"KEY_ENCRYPTION_KEY=" + hex.EncodeToString(kek), "SYNC_URLS=http://" + dead + "/sync/users", "ARGON2_PARAMS=" + argon2Params}})
	if err != nil {
		t.Fatal(err)
	}
	defer as.Stop()
	// The cleanup runs as the server starts: it deletes the n ended sessions and their tokens.
	deadline := time.Now().Add(time.Minute)
	for count(t, auth, "SELECT count(*) FROM sessions") != 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("the session cleanup did not delete the ended sessions: %d sessions left\n%s",
				count(t, auth, "SELECT count(*) FROM sessions"), as.Tail(2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := count(t, auth, "SELECT count(*) FROM refresh_tokens"); c != genTokensPerUser*n {
		t.Errorf("after the cleanup %d refresh tokens, want %d", c, genTokensPerUser*n)
	}
	c := NewConn(as.Addr)
	defer c.Close()
	tok, err := call(c, as.Addr, "/login", loginBody(GenUserName(7)), 200)
	if err != nil {
		t.Fatalf("a generated user's login: %v", err)
	}
	if _, err := call(c, as.Addr, "/refresh", fmt.Appendf(nil, `{"refresh_token":%q}`, tok.RefreshToken), 200); err != nil {
		t.Fatalf("refresh: %v", err)
	}

	rsAddr, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Start(ctx, Spec{Name: "resource-server", Path: bin + "/resource-server", Dir: dir, Listening: rsListening,
		Env: []string{"RESOURCE_ADDR=" + rsAddr, "APP_DATABASE_URL=" + appURL, "AUTH_ISSUER=" + issuer, "AUTH_AUDIENCE=" + audience,
			"JWKS_URL=http://" + as.Addr + "/.well-known/jwks.json"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Stop()
	if err := WaitHTTP(ctx, rs.Addr, "/readyz", 200, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	m, err := NewMinter(ctx, authURL, kek, issuer, []string{audience})
	if err != nil {
		t.Fatal(err)
	}
	access, err := m.MintFor(GenUserID(42), "not-the-generated-name", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rc := NewConn(rs.Addr)
	defer rc.Close()
	r, err := rc.Do(Render(rs.Addr, "GET", "/me", nil, "Authorization", "Bearer "+access))
	if err := expect(r, err, 200); err != nil {
		t.Fatalf("/me: %v", err)
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(r.Body, &me); err != nil || me.Username != GenUserName(42) {
		t.Fatalf("/me answered %s (%v), want the generated app user %s", r.Body, err, GenUserName(42))
	}
}

// openMigrated opens the database at url and applies schema's migrations.
func openMigrated(t *testing.T, ctx context.Context, url string, schema db.Schema) *db.DB {
	t.Helper()
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, schema); err != nil {
		t.Fatal(err)
	}
	return d
}

func count(t *testing.T, d *db.DB, q string) int {
	t.Helper()
	var n int
	if err := d.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}
