package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/keys"
)

// refreshTimeout bounds a wait on the resource server's JWKS refresh: its refreshes (periodic
// or for an unknown kid) are at least 30 s apart (CONTRACT §7), plus the auth server's 10 s
// pickup of a CLI change (§4), plus slack for a busy machine.
const refreshTimeout = 60 * time.Second

// wantInvalidToken fails unless r is CONTRACT §7's answer to a bad token: 401, a
// `Bearer error="invalid_token"` challenge and the JSON error invalid_token.
func wantInvalidToken(t testing.TB, r *Response) {
	t.Helper()
	what := r.Request.Method + " " + r.Request.URL.Path
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401; body %s", what, r.StatusCode, r.Body)
		return
	}
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf(`%s: WWW-Authenticate %q, want Bearer error="invalid_token"`, what, ch)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Error != "invalid_token" {
		t.Errorf("%s: body %s, want error invalid_token", what, r.Body)
	}
}

// TestRFC8725CatalogueAgainstRunningServer sends the running resource server (/whoami and
// /me) a catalogue of hostile tokens (RFC 8725, CONTRACT §3, §7): alg none in several
// casings, HS256 signed with the published public key, keys named by the token (jwk, jku,
// x5u, x5c), unknown and hostile kids, bad times, issuer, audience and typ, a refresh token,
// garbage, tampering, truncation and a 16 KiB token. Each gets 401 with
// `Bearer error="invalid_token"`, never a 5xx, and the URLs named in tokens get no request.
// Two controls (a server token, a token minted with the server's key) are accepted, so each
// refusal is about what its case changed.
func TestRFC8725CatalogueAgainstRunningServer(t *testing.T) {
	t.Parallel()
	var trapHits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapHits.Add(1)
		http.Error(w, "nothing here", http.StatusNotFound)
	}))
	defer trap.Close()
	st := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(st.Auth.URL, "rfc8725")
	real := serverKey(t, st.Auth, keys.StateCurrent)
	if got, want := publicJWK(t, real).KeyID, kidOf(t, user.Tokens.AccessToken); got != want {
		t.Fatalf("the current key in the database is %s, the server signs with %s", got, want)
	}
	for _, tok := range []string{user.Tokens.AccessToken, mint(t, real, accessClaims(st.Auth, time.Now()), nil)} {
		for _, path := range []string{"/whoami", "/me"} {
			c.Get(st.Resource.URL+path, bearer(tok)).Want(t, http.StatusOK)
		}
	}

	for _, tc := range hostileTokens(t, c, st.Auth, real, user, trap.URL) {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			for _, path := range []string{"/whoami", "/me"} {
				wantInvalidToken(t, c.Get(st.Resource.URL+path, bearer(tc.token)))
			}
		})
	}
	if n := trapHits.Load(); n != 0 {
		t.Errorf("the resource server fetched %d URL(s) named in tokens (jku, x5u, kid); want none", n)
	}
}

// TestClockSkew checks CLOCK_LEEWAY (30s, CONTRACT §2) at the running resource server with
// tokens minted with the server's own key: iat/nbf 20 s ahead and exp 20 s ago are accepted,
// 2 minutes either way is refused.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{})
	real := serverKey(t, st.Auth, keys.StateCurrent)
	cases := []struct {
		name   string
		shift  time.Duration // how far from now the token was issued
		expIn  time.Duration // exp relative to now
		accept bool
	}{
		{"iat and nbf 20s ahead", 20 * time.Second, 15 * time.Minute, true},
		{"iat and nbf 2m ahead", 2 * time.Minute, 15 * time.Minute, false},
		{"exp 20s ago", -15 * time.Minute, -20 * time.Second, true},
		{"exp 2m ago", -15 * time.Minute, -2 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			now := time.Now()
			claims := with(accessClaims(st.Auth, now.Add(tc.shift)), "exp", now.Add(tc.expIn).Unix())
			r := c.Get(st.Resource.URL+"/whoami", bearer(mint(t, real, claims, nil)))
			if tc.accept {
				r.Want(t, http.StatusOK)
			} else {
				wantInvalidToken(t, r)
			}
		})
	}
}

// TestRevokedKeyStopsVerifyingAfterRefresh checks CONTRACT §4: after `keys revoke` of the
// current kid, that key's tokens (one already cached as verified, one never presented) fail
// at the resource server after its next JWKS refresh, without a restart, while tokens of the
// key that took over keep working.
func TestRevokedKeyStopsVerifyingAfterRefresh(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{Auth: map[string]string{"JWKS_MAX_AGE": "1s", "KEY_PUBLISH_AHEAD": "1s"}})
	c := newClient(t)
	user := c.signup(st.Auth.URL, "revoked")
	ks := listKeys(t, st.Auth)
	cur, next := keyIn(t, ks, "current"), keyIn(t, ks, "next")
	cached, fresh := user.Tokens.AccessToken, c.login(st.Auth.URL, user).AccessToken
	if kidOf(t, cached) != cur.KID || kidOf(t, fresh) != cur.KID {
		t.Fatalf("tokens signed with %s and %s, want the current key %s", kidOf(t, cached), kidOf(t, fresh), cur.KID)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(cached)).Want(t, http.StatusOK)

	st.Auth.MustCLI("keys", "revoke", cur.KID)
	waitSigningKID(t, c, user, next.KID, st.Auth)
	successor := c.login(st.Auth.URL, user).AccessToken
	c.Get(st.Resource.URL+"/whoami", bearer(successor)).Want(t, http.StatusOK)

	var last int
	if !poll(refreshTimeout, func() bool {
		last = c.Get(st.Resource.URL+"/whoami", bearer(cached)).StatusCode
		return last == http.StatusUnauthorized
	}) {
		t.Fatalf("a token of the revoked key %s still answers %d after %s", cur.KID, last, refreshTimeout)
	}
	wantInvalidToken(t, c.Get(st.Resource.URL+"/whoami", bearer(cached)))
	wantInvalidToken(t, c.Get(st.Resource.URL+"/me", bearer(fresh)))
	c.Get(st.Resource.URL+"/whoami", bearer(successor)).Want(t, http.StatusOK)
}

// jwksCounter is a reverse proxy in front of an auth server that records when the JWKS was
// requested through it.
type jwksCounter struct {
	*httptest.Server
	mu    sync.Mutex
	times []time.Time
}

// newJWKSCounter starts a jwksCounter for the auth server at target (closed with the test).
func newJWKSCounter(t testing.TB, target string) *jwksCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	jc := &jwksCounter{}
	jc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/jwks.json" {
			jc.mu.Lock()
			jc.times = append(jc.times, time.Now())
			jc.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(jc.Close)
	return jc
}

// fetches returns the times of the JWKS requests so far.
func (jc *jwksCounter) fetches() []time.Time {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	return slices.Clone(jc.times)
}

// TestUnknownKidStormFetchesJWKSAtMostOnce checks CONTRACT §7: a storm of tokens with unknown
// kids (signed with a key of the test's own, valid otherwise) makes the resource server fetch
// the JWKS at most once per 30 s, counted by a proxy between it and the auth server; once
// 30 s have passed since the last fetch the storm does trigger one (shared by the requests
// waiting on it); a good token keeps working throughout.
func TestUnknownKidStormFetchesJWKSAtMostOnce(t *testing.T) {
	t.Parallel()
	auth := startAuth(t, nil)
	counter := newJWKSCounter(t, auth.URL)
	env := resourceEnvFor(auth)
	env["JWKS_URL"] = counter.URL + "/.well-known/jwks.json"
	res := startResource(t, env)
	waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
	c := newClient(t)
	good := c.signup(auth.URL, "stormy").Tokens.AccessToken
	forged := make([]string, 64)
	for i := range forged {
		forged[i] = mint(t, ownKey(t, "ES256", "storm-"+uuid.NewString()), accessClaims(auth, time.Now()), nil)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, goodSent atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stormWorker(t, c, res.URL, forged[w*8:(w+1)*8], false, stop, &sent)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		stormWorker(t, c, res.URL, []string{good}, true, stop, &goodSent)
	}()
	// The first fetch was at start; 30 s later the storm may (and should) trigger one more.
	triggered := poll(55*time.Second, func() bool { return len(counter.fetches()) >= 2 })
	// Go on storming for a while: no further fetch may come.
	poll(3*time.Second, func() bool { return len(counter.fetches()) > 2 })
	close(stop)
	wg.Wait()

	times := counter.fetches()
	t.Logf("%d forged and %d good requests, %d JWKS fetches", sent.Load(), goodSent.Load(), len(times))
	if !triggered {
		t.Errorf("no JWKS fetch for an unknown kid within 55 s of the start (fetches at %v)", times)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 29*time.Second {
			t.Errorf("JWKS fetches %d and %d only %s apart, want at least 30 s", i-1, i, gap.Round(time.Millisecond))
		}
	}
}

// stormWorker presents tokens in turn, one every 40 ms, until stop is closed: each must get
// 200 when wantOK, else 401 invalid_token.
func stormWorker(t *testing.T, c *Client, base string, tokens []string, wantOK bool, stop <-chan struct{}, sent *atomic.Int64) {
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		r, err := c.TrySend(http.MethodGet, base+"/whoami", nil, bearer(tokens[i%len(tokens)]))
		sent.Add(1)
		switch {
		case err != nil:
			t.Errorf("storm request: %v", err)
			return
		case wantOK && r.StatusCode != http.StatusOK:
			t.Errorf("the good token got %d during the storm: %s", r.StatusCode, r.Body)
			return
		case !wantOK:
			wantInvalidToken(t, r)
		}
	}
}

// TestAuthServerDownKeepsVerifying checks CONTRACT §7: with the auth server stopped, the
// resource server keeps accepting tokens of the keys it has, also after a failed JWKS refresh
// (a token never presented before included) and on /me as well as /whoami; once the auth
// server is back and has rotated twice, a token of a key the resource server has never seen
// is accepted without restarting it.
func TestAuthServerDownKeepsVerifying(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{Auth: map[string]string{"JWKS_MAX_AGE": "1s", "KEY_PUBLISH_AHEAD": "1s"}})
	c := newClient(t)
	user := c.signup(st.Auth.URL, "offline")
	early, late := user.Tokens.AccessToken, c.login(st.Auth.URL, user).AccessToken
	c.Get(st.Resource.URL+"/whoami", bearer(early)).Want(t, http.StatusOK)

	st.Auth.Stop()
	c.Get(st.Resource.URL+"/whoami", bearer(early)).Want(t, http.StatusOK)
	c.Get(st.Resource.URL+"/me", bearer(early)).Want(t, http.StatusOK)
	var failed float64
	if !poll(refreshTimeout, func() bool {
		failed = metricValue(t, c, st.Resource.URL, `resource_jwks_refreshes_total{result="error"}`)
		return failed >= 1
	}) {
		t.Fatalf("no failed JWKS refresh within %s of stopping the auth server", refreshTimeout)
	}
	for _, path := range []string{"/whoami", "/me"} {
		c.Get(st.Resource.URL+path, bearer(late)).Want(t, http.StatusOK)
		c.Get(st.Resource.URL+path, bearer(early)).Want(t, http.StatusOK)
	}

	st.Auth.Start()
	for range 2 {
		waitPublishedFor(t, st.Auth, keyIn(t, listKeys(t, st.Auth), "next"), time.Second)
		st.Auth.MustCLI("keys", "rotate")
	}
	newest := keyIn(t, listKeys(t, st.Auth), "current")
	waitSigningKID(t, c, user, newest.KID, st.Auth)
	fresh := c.login(st.Auth.URL, user).AccessToken
	var last int
	if !poll(refreshTimeout, func() bool {
		last = c.Get(st.Resource.URL+"/whoami", bearer(fresh)).StatusCode
		return last == http.StatusOK
	}) {
		t.Fatalf("a token of the new key %s still answers %d after %s", newest.KID, last, refreshTimeout)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(early)).Want(t, http.StatusOK) // retired, still published
}

// metricValue is the value of one sample of the Prometheus text at base/metrics (0 when
// absent), e.g. `name{label="v"}`.
func metricValue(t testing.TB, c *Client, base, sample string) float64 {
	t.Helper()
	body := string(c.Get(base+"/metrics").Want(t, http.StatusOK).Body)
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", sample, v, err)
			}
			return f
		}
	}
	return 0
}
