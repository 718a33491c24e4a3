package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestReplicasShareState checks CONTRACT §4, §5 and §6 with two auth-server replicas on one
// PostgreSQL database and one resource server: whatever one replica does, the other knows.
// (Concurrent refreshes across replicas are TestRefreshRaceAcrossTwoProcesses; the shared
// sync outbox is TestSyncTwoReplicasShareTheOutbox.)
func TestReplicasShareState(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTH_DATABASE_URL": testdb.PostgresURL(t), "KEY_PUBLISH_AHEAD": "1s", "JWKS_MAX_AGE": "1s"}
	replicas := startReplicas(t, 2, env)
	res := startResource(t, resourceEnvFor(replicas[0]))
	waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
	a, b := replicas[0], replicas[1]

	t.Run("sessions", func(t *testing.T) { t.Parallel(); rpSessions(t, a, b) })
	t.Run("rotation", func(t *testing.T) { t.Parallel(); rpRotation(t, a, b, res) })
	t.Run("throttling", func(t *testing.T) { t.Parallel(); rpThrottling(t, a, b) })
}

// rpSessions: a session started on A refreshes on B; ended on A, it no longer refreshes on B
// (400 invalid_grant) and B refuses its access token at once (CONTRACT §5, §6); the user's
// other session is untouched.
func rpSessions(t *testing.T, a, b *Proc) {
	c := newClient(t)
	u := c.signup(a.URL, "roamer")
	login := c.login(a.URL, u)
	var onB tokenResponse
	c.PostJSON(b.URL+"/refresh", map[string]string{"refresh_token": login.RefreshToken}).Want(t, http.StatusOK).JSON(t, &onB)
	c.Get(a.URL+"/me", bearer(onB.AccessToken)).Want(t, http.StatusOK)
	c.PostJSON(a.URL+"/logout", map[string]string{"refresh_token": onB.RefreshToken}).Want(t, http.StatusNoContent)
	r := c.PostJSON(b.URL+"/refresh", map[string]string{"refresh_token": onB.RefreshToken}).Want(t, http.StatusBadRequest)
	var e struct{ Error string }
	if r.JSON(t, &e); e.Error != "invalid_grant" {
		t.Errorf("refresh on B of a session ended on A: error %q, want invalid_grant", e.Error)
	}
	c.Get(b.URL+"/me", bearer(onB.AccessToken)).Want(t, http.StatusUnauthorized)
	c.PostJSON(b.URL+"/refresh", map[string]string{"refresh_token": u.Tokens.RefreshToken}).Want(t, http.StatusOK)
}

// rpRotation: `keys rotate` run against B's environment is in use on both replicas within
// 10 s (both sign with the new kid, both publish the same JWKS), and the resource server,
// which loaded the JWKS before the rotation, accepts the new key's tokens from both at once:
// the key was published ahead (CONTRACT §4).
func rpRotation(t *testing.T, a, b, res *Proc) {
	c := newClient(t)
	u := c.signup(a.URL, "rotated")
	next := keyIn(t, listKeys(t, a), "next")
	waitPublishedFor(t, a, next, time.Second)
	b.MustCLI("keys", "rotate")
	fresh := keyIn(t, listKeys(t, a), "next")
	waitSigningKID(t, c, u, next.KID, a, b)
	var ja, jb map[string]json.RawMessage
	ok := poll(pickupTimeout, func() bool {
		ja, jb = rpJWKS(t, c, a), rpJWKS(t, c, b)
		_, published := ja[fresh.KID]
		return published && maps.EqualFunc(ja, jb, func(x, y json.RawMessage) bool { return string(x) == string(y) })
	})
	if !ok {
		t.Errorf("the replicas' JWKS differ %s after the rotation, or lack the new next key %s:\nA %v\nB %v",
			pickupTimeout, fresh.KID, rpKIDs(ja), rpKIDs(jb))
	}
	for _, p := range []*Proc{a, b} {
		tok := c.login(p.URL, u).AccessToken
		c.Get(res.URL+"/whoami", bearer(tok)).Want(t, http.StatusOK)
	}
}

// rpJWKS is p's JWKS as kid → the key's JSON.
func rpJWKS(t *testing.T, c *Client, p *Proc) map[string]json.RawMessage {
	t.Helper()
	var set struct{ Keys []json.RawMessage }
	c.Get(p.URL+"/.well-known/jwks.json").Want(t, http.StatusOK).JSON(t, &set)
	out := map[string]json.RawMessage{}
	for _, k := range set.Keys {
		var h struct{ KID string }
		if err := json.Unmarshal(k, &h); err != nil {
			t.Fatalf("%s JWKS key: %v", p.Name, err)
		}
		out[h.KID] = k
	}
	return out
}

// rpKIDs are the kids of a JWKS returned by rpJWKS, sorted.
func rpKIDs(m map[string]json.RawMessage) []string { return slices.Sorted(maps.Keys(m)) }

// rpThrottling: failed logins of one account alternate between the replicas. The account is
// throttled after its 5th failure in all, as counted by both together (counted per replica,
// it would take 9 or more), and then on both replicas every attempt gets 429 with
// Retry-After, the right password included (CONTRACT §6). The block starts at 1 s and
// doubles with each further failure, so the test keeps failing until a block is long enough
// to check the right password on both.
func rpThrottling(t *testing.T, a, b *Proc) {
	c := newClient(t)
	u := c.signup(a.URL, "guessed")
	wrong := url.Values{"username": {u.Username}, "password": {"not the password"}}
	right := url.Values{"username": {u.Username}, "password": {u.Password}}
	replicas := []*Proc{a, b}
	failures, firstBlock := 0, -1
	blockedOn := map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d failures: still not blocked long enough on both replicas (blocked on %v)", failures, blockedOn)
		}
		p := replicas[i%2]
		r := c.PostForm(p.URL+"/login", wrong)
		switch r.StatusCode {
		case http.StatusUnauthorized:
			failures++
			continue
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("wrong password at %s: %d %s", p.Name, r.StatusCode, r.Body)
		}
		if firstBlock < 0 {
			firstBlock = failures
		}
		blockedOn[p.Name] = true
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || wait < 1 {
			t.Fatalf("429 at %s with Retry-After %q", p.Name, r.Header.Get("Retry-After"))
		}
		if len(blockedOn) == 2 && wait >= 3 {
			break
		}
		time.Sleep(pollEvery) // pace the attempts while blocked; blocked attempts are not counted
	}
	if firstBlock < 5 || firstBlock > 7 {
		t.Errorf("first 429 after %d failures spread over both replicas, want it after the 5th (up to the 7th on a slow machine: the first blocks last 1 s and 2 s)", firstBlock)
	}
	t.Logf("first 429 after %d failures; blocked on both after %d", firstBlock, failures)
	for _, p := range replicas {
		r := c.PostForm(p.URL+"/login", right).Want(t, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("429 at %s without Retry-After", p.Name)
		}
	}
}
