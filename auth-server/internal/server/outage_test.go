package server_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// PostgreSQL going away and coming back: the server keeps running, /readyz answers 503 while
// the database is down and 200 soon after it is back, requests meanwhile get a clean 503.
func TestPostgresOutageAndRecovery(t *testing.T) {
	raw := testdb.PostgresURL(t)
	testdb.Open(t, raw, db.AuthSchema).Close() // migrate through a direct connection
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testdb.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	d := testdb.Open(t, u.String(), db.AuthSchema)
	e := newEnv(t, d)
	e.signup("olga", "olga@example.com", "password1")

	proxy.Down()
	if r := e.do("GET", "/readyz", nil); r.Status != 503 {
		t.Errorf("readyz while down: %d %s", r.Status, r.Raw)
	}
	r := e.login("olga", "password1")
	if r.Status != 503 || r.str("error") != "temporarily_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Errorf("login while down: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/signup", map[string]string{"username": "pete", "email": "pete@example.com", "password": "password1"}); r.Status != 503 {
		t.Errorf("signup while down: %d %s", r.Status, r.Raw)
	}

	proxy.Up()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r := e.do("GET", "/readyz", nil); r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz did not recover")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := e.login("olga", "password1"); r.Status != 200 {
		t.Errorf("login after recovery: %d %s", r.Status, r.Raw)
	}
}

// Connections killed by the server (pg_terminate_backend) are replaced without a failed request.
func TestPostgresTerminatedConnections(t *testing.T) {
	raw := testdb.PostgresURL(t)
	d := testdb.Open(t, raw, db.AuthSchema)
	e := newEnv(t, d)
	e.signup("quinn", "quinn@example.com", "password1")
	var name string
	if err := d.Get(&name, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	admin := testdb.Open(t, raw, db.AuthSchema)
	admin.SetMaxOpenConns(1)
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.login("quinn", "password1")
		if r.Status == 200 {
			break
		}
		if r.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("login after terminate: %d %s", r.Status, r.Raw)
		}
	}
}
