package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// pickupTimeout is CONTRACT §4's bound: every running replica picks up a key change made by
// the CLI or another replica within 10 seconds.
const pickupTimeout = 10 * time.Second

// listedKey is one row of `auth-server keys list --json`.
type listedKey struct {
	KID       string `json:"kid"`
	Alg       string `json:"alg"`
	State     string `json:"state"`
	Created   string `json:"created"`
	Activated string `json:"activated"` // "" when null
	Retired   string `json:"retired"`
	RemoveAt  string `json:"remove_at"`
}

// listKeys runs `keys list --json` for p's database and returns the keys of p's access-token
// algorithm (ALGORITHM, ES256 by default): the lifecycle the tests of access tokens look at.
// listAllKeys returns every lifecycle's, the RS256 ID-token keys included.
func listKeys(t testing.TB, p *Proc) []listedKey {
	t.Helper()
	alg := strings.ToUpper(p.env["ALGORITHM"])
	switch alg {
	case "":
		alg = "ES256"
	case "EDDSA":
		alg = "EdDSA"
	}
	var out []listedKey
	for _, k := range listAllKeys(t, p) {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

// listAllKeys runs `keys list --json` for p's database: every algorithm's keys.
func listAllKeys(t testing.TB, p *Proc) []listedKey {
	t.Helper()
	res := p.MustCLI("keys", "list", "--json")
	var ks []listedKey
	if err := json.Unmarshal([]byte(res.Stdout), &ks); err != nil {
		t.Fatalf("keys list --json: %v\n%s", err, res.Stdout)
	}
	return ks
}

// keyIn returns the one key in state (failing the test unless there is exactly one).
func keyIn(t testing.TB, ks []listedKey, state string) listedKey {
	t.Helper()
	var found []listedKey
	for _, k := range ks {
		if k.State == state {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s key, have %+v", state, ks)
	}
	return found[0]
}

// signingKID logs a in at authURL and returns the kid of the access token.
func signingKID(t testing.TB, c *Client, authURL string, a account) string {
	t.Helper()
	return kidOf(t, c.login(authURL, a).AccessToken)
}

// waitSigningKID polls logins at every server until each signs with kid.
func waitSigningKID(t *testing.T, c *Client, a account, kid string, servers ...*Proc) {
	t.Helper()
	for _, p := range servers {
		var got string
		if !poll(pickupTimeout, func() bool { got = signingKID(t, c, p.URL, a); return got == kid }) {
			t.Errorf("%s still signs with %s, want %s within %s", p.Name, got, kid, pickupTimeout)
		}
	}
}

// waitJWKS polls every server's JWKS until pred holds for its kids.
func waitJWKS(t *testing.T, c *Client, what string, pred func(kids []string) bool, servers ...*Proc) {
	t.Helper()
	for _, p := range servers {
		var kids []string
		ok := poll(pickupTimeout, func() bool {
			kids = jwksKIDs(t, c.Get(p.URL+"/.well-known/jwks.json").Want(t, http.StatusOK))
			return pred(kids)
		})
		if !ok {
			t.Errorf("%s JWKS: %s not seen within %s; kids %v", p.Name, what, pickupTimeout, kids)
		}
	}
}

// TestKeysRotateFromTwoProcessesAtOnce checks CONTRACT §4 with two replicas on one
// PostgreSQL database: two `keys rotate` run at once rotate exactly once (the other reports
// "already rotated" and exits 0), and both replicas sign with the new key within 10 s.
func TestKeysRotateFromTwoProcessesAtOnce(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTH_DATABASE_URL": testdb.PostgresURL(t), "KEY_PUBLISH_AHEAD": "1s", "JWKS_MAX_AGE": "1s"}
	replicas := startReplicas(t, 2, env)
	a1, a2 := replicas[0], replicas[1]
	c := newClient(t)
	user := c.signup(a1.URL, "rotor")
	before := listKeys(t, a1)
	cur, next := keyIn(t, before, "current"), keyIn(t, before, "next")
	waitSigningKID(t, c, user, cur.KID, a1, a2)
	waitPublishedFor(t, a1, next, time.Second)

	results := make([]CLIResult, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range []*Proc{a1, a2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = p.CLI("keys", "rotate")
		}()
	}
	close(start)
	wg.Wait()

	var rotated, already, refused int
	for _, r := range results {
		switch {
		case r.Code == 0 && strings.HasPrefix(r.Stdout, "rotated:"):
			rotated++
		case r.Code == 0 && strings.Contains(r.Stdout, "already rotated"):
			already++
		case r.Code != 0 && strings.Contains(r.Stderr, "refusing to rotate"):
			// The loser loaded the keys after the winner had committed: for it the (new)
			// next key is too young. Still exactly one rotation.
			refused++
		default:
			t.Errorf("unexpected outcome of keys rotate: %s", r)
		}
	}
	if rotated != 1 || already+refused != 1 {
		t.Fatalf("want one rotation and one no-op, got %d rotated, %d already rotated, %d refused:\n%s\n%s",
			rotated, already, refused, results[0], results[1])
	}
	if refused > 0 {
		t.Logf("the second rotate started after the first had committed and refused as too early")
	}
	after := listKeys(t, a1)
	if got := keyIn(t, after, "current"); got.KID != next.KID {
		t.Errorf("current after rotation %s, want the old next %s", got.KID, next.KID)
	}
	if got := keyIn(t, after, "retired"); got.KID != cur.KID {
		t.Errorf("retired after rotation %s, want the old current %s", got.KID, cur.KID)
	}
	keyIn(t, after, "next")
	waitSigningKID(t, c, user, next.KID, a1, a2)
}

// waitPublishedFor polls `keys list --json` until k has been published for longer than d
// (the listed times have a resolution of one second).
func waitPublishedFor(t *testing.T, p *Proc, k listedKey, d time.Duration) {
	t.Helper()
	created, err := time.Parse(time.RFC3339, k.Created)
	if err != nil {
		t.Fatalf("key %s created %q: %v", k.KID, k.Created, err)
	}
	if !poll(d+5*time.Second, func() bool { return time.Since(created) > d+time.Second }) {
		t.Fatalf("key %s not published for %s in time", k.KID, d)
	}
}

// TestKeysRotateRefusesTooEarly checks CONTRACT §4: `keys rotate` refuses, with the time to
// wait, while the next key has been published for less than KEY_PUBLISH_AHEAD, and changes
// nothing; `--force` rotates, the server signs with the new key within 10 s, and the retired
// key stays published.
func TestKeysRotateRefusesTooEarly(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			auth := startAuth(t, authDBEnv(t, b))
			c := newClient(t)
			user := c.signup(auth.URL, "early")
			before := listKeys(t, auth)
			cur, next := keyIn(t, before, "current"), keyIn(t, before, "next")

			res := auth.CLI("keys", "rotate")
			if res.Code == 0 || !strings.Contains(res.Stderr, "wait") || !strings.Contains(res.Stderr, "--force") {
				t.Errorf("keys rotate with a 20m KEY_PUBLISH_AHEAD: want a refusal naming the wait and --force, got %s", res)
			}
			if after := listKeys(t, auth); !slices.Equal(after, before) {
				t.Errorf("a refused rotation changed the keys:\nbefore %+v\nafter  %+v", before, after)
			}

			auth.MustCLI("keys", "rotate", "--force")
			waitSigningKID(t, c, user, next.KID, auth)
			auth.Kill() // a crash loses nothing: the rotation is stored
			auth.Start()
			waitSigningKID(t, c, user, next.KID, auth)
			kids := jwksKIDs(t, c.Get(auth.URL+"/.well-known/jwks.json").Want(t, http.StatusOK))
			if !slices.Contains(kids, cur.KID) {
				t.Errorf("the retired key %s left the JWKS at once: %v", cur.KID, kids)
			}
		})
	}
}

// TestKeysRevoke checks CONTRACT §4: `keys revoke KID` takes a key out of the JWKS at once,
// as seen from every replica within 10 s, and the replicas stop signing with it. On SQLite
// with one server, on PostgreSQL with two.
func TestKeysRevoke(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			env := authDBEnv(t, b)
			n := 1
			if b == "postgres" {
				n = 2
			}
			servers := startReplicas(t, n, env)
			c := newClient(t)
			user := c.signup(servers[0].URL, "revoker")
			cur := keyIn(t, listKeys(t, servers[0]), "current")
			waitSigningKID(t, c, user, cur.KID, servers...)

			servers[0].MustCLI("keys", "revoke", cur.KID)
			for _, k := range listKeys(t, servers[0]) {
				if k.KID == cur.KID && k.State != "revoked" {
					t.Errorf("revoked key listed as %s", k.State)
				}
			}
			waitJWKS(t, c, cur.KID+" gone", func(kids []string) bool { return !slices.Contains(kids, cur.KID) }, servers...)
			for _, p := range servers {
				if kid := signingKID(t, c, p.URL, user); kid == cur.KID {
					t.Errorf("%s still signs with the revoked key %s", p.Name, kid)
				}
			}
			// The revocation is stored: a restarted replica does not bring the key back.
			servers[0].Restart()
			if kids := jwksKIDs(t, c.Get(servers[0].URL+"/.well-known/jwks.json").Want(t, http.StatusOK)); slices.Contains(kids, cur.KID) {
				t.Errorf("after a restart the JWKS publishes the revoked key again: %v", kids)
			}
		})
	}
}

// authDBEnv is an auth server's database for backend "sqlite" (the embedded default in its
// working directory) or "postgres" (a fresh database; skipped without TEST_DATABASE_URL).
func authDBEnv(t testing.TB, backend string) map[string]string {
	t.Helper()
	if backend == "postgres" {
		return map[string]string{"AUTH_DATABASE_URL": testdb.PostgresURL(t)}
	}
	return map[string]string{}
}
