package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Deadlines of the fault tests: how long a server may take to notice an outage, and to
// answer 200 again once the fault is over.
const (
	ftOutageTimeout  = 15 * time.Second
	ftRecoverTimeout = 30 * time.Second
)

// ftProxiedDB returns the URL of a fresh PostgreSQL database reached through a TCP proxy
// the test controls (Down, Up), so PostgreSQL can go away without touching the shared server.
func ftProxiedDB(t *testing.T) (string, *testdb.Proxy) {
	t.Helper()
	u, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testdb.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	return u.String(), proxy
}

// TestPostgresRestartUnderLoad checks CONTRACT §6 ("a client mistake never gets a 5xx"; the
// database away is a 503) and §1 (PostgreSQL is the production store): with both servers on
// PostgreSQL through proxies and a load of signups, logins, refreshes and notes running, each
// database goes away and comes back. Meanwhile every answer is the expected success or a 503
// (never another 5xx, never a 4xx), /readyz of that server is 503 and of the other 200; after
// it is back, both answer 200 again within seconds, without a restart, and every user and
// note that was acknowledged with 201 is still there.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	authDB, authProxy := ftProxiedDB(t)
	appDB, appProxy := ftProxiedDB(t)
	s := startStack(t, StackOptions{
		Auth:     map[string]string{"AUTH_DATABASE_URL": authDB},
		Resource: map[string]string{"APP_DATABASE_URL": appDB},
	})
	const workers = 3
	load := ftStartLoad(t, s, ftLoadOptions{workers: workers, unavailable: true})
	load.waitOK(t, 2*workers, "before the outages")
	outages := []struct {
		name        string
		proxy       *testdb.Proxy
		down, other *Proc
	}{
		{"auth database", authProxy, s.Auth, s.Resource},
		{"app database", appProxy, s.Resource, s.Auth},
	}
	for _, o := range outages {
		before := load.unavailable(o.down.Kind)
		o.proxy.Down()
		waitStatus(t, o.down.URL+"/readyz", http.StatusServiceUnavailable, ftOutageTimeout)
		load.waitUnavailable(t, o.down.Kind, before+2*workers) // every worker met the outage
		waitStatus(t, o.other.URL+"/readyz", http.StatusOK, ftOutageTimeout)
		o.proxy.Up()
		back := time.Now()
		waitStatus(t, o.down.URL+"/readyz", http.StatusOK, ftRecoverTimeout)
		load.waitOK(t, 2*workers, o.name+" back")
		t.Logf("%s: %d answers 503 during the outage; the load ran clean again %s after it came back",
			o.name, load.unavailable(o.down.Kind)-before, time.Since(back).Round(time.Millisecond))
	}
	load.verify(t)
}

// TestSIGKILLAndRestart checks that a crash loses nothing that was acknowledged (CONTRACT §4,
// §5, §6): each server is killed with SIGKILL in the middle of a load and started again. While
// the auth server is down, the resource server keeps verifying (§7). Afterwards every user
// that got 201 logs in, every note that got 201 is there, sessions issued before the crash
// still refresh, and the keys are unchanged (same kids, same states, the same kid signs). On
// the embedded SQLite default (its WAL must survive the kill) and on PostgreSQL.
func TestSIGKILLAndRestart(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var o StackOptions
			if backend == "postgres" {
				o.Auth, o.Resource = pgEnv(t)
			}
			s := startStack(t, o)
			c := newClient(t)
			early := c.signup(s.Auth.URL, "early")
			var note struct{ ID string }
			c.PostJSON(s.Resource.URL+"/notes", map[string]string{"title": "before the crash"}, bearer(early.Tokens.AccessToken)).
				Want(t, http.StatusCreated).JSON(t, &note)
			keys := listKeys(t, s.Auth)

			load := ftStartLoad(t, s, ftLoadOptions{workers: 2, crashes: true})
			load.waitOK(t, 4, "before the crashes")
			s.Auth.Kill()
			ftLogWAL(t, s.Auth)
			c.Get(s.Resource.URL+"/whoami", bearer(early.Tokens.AccessToken)).Want(t, http.StatusOK)
			s.Auth.Restart()
			load.waitOK(t, 4, "after the auth server's restart")
			s.Resource.Kill()
			s.Resource.Restart()
			waitStatus(t, s.Resource.URL+"/readyz", http.StatusOK, readyTimeout)
			load.waitOK(t, 4, "after the resource server's restart")
			load.verify(t)

			var tr tokenResponse
			c.PostJSON(s.Auth.URL+"/refresh", map[string]string{"refresh_token": early.Tokens.RefreshToken}).
				Want(t, http.StatusOK).JSON(t, &tr)
			c.Get(s.Resource.URL+"/notes/"+note.ID, bearer(tr.AccessToken)).Want(t, http.StatusOK)
			if after := listKeys(t, s.Auth); !slices.Equal(after, keys) {
				t.Errorf("the keys changed across the crashes:\nbefore %+v\nafter  %+v", keys, after)
			}
			if got, want := kidOf(t, tr.AccessToken), keyIn(t, keys, "current").KID; got != want {
				t.Errorf("after the restart the auth server signs with %s, want the same current key %s", got, want)
			}
		})
	}
}

// ftLogWAL logs the size of the auth server's SQLite write-ahead log after a kill, to show
// that the restart had to recover from it (nothing is logged on PostgreSQL).
func ftLogWAL(t *testing.T, p *Proc) {
	if fi, err := os.Stat(filepath.Join(p.Dir, "data", "auth.db-wal")); err == nil {
		t.Logf("%s killed with a %d-byte WAL", p.Name, fi.Size())
	}
}
