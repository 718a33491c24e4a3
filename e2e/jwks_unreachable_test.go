package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// TestJWKSUnreachable checks CONTRACT §7 ("an auth server that is down does not stop it from
// accepting tokens signed by keys it already has") for a JWKS that becomes unreachable while
// the auth server itself runs: the connection refused ("refused"), or accepted and never
// answered ("hanging"). Meanwhile the auth server rotates its key: the new key was published
// ahead (§4), so its tokens verify with no fetch. Known tokens keep verifying, also during a
// hanging fetch and after it failed; /readyz stays 200; a token with an unknown kid gets 401,
// never a 5xx.
func TestJWKSUnreachable(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			auth := startAuth(t, map[string]string{"JWKS_MAX_AGE": "1s", "KEY_PUBLISH_AHEAD": "1s"})
			jp := ftNewJWKSProxy(t, auth.URL)
			env := resourceEnvFor(auth)
			env["JWKS_URL"] = jp.srv.URL + "/.well-known/jwks.json"
			res := startResource(t, env)
			waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
			c := newClient(t)
			user := c.signup(auth.URL, "partitioned")
			known := user.Tokens.AccessToken
			c.Get(res.URL+"/whoami", bearer(known)).Want(t, http.StatusOK)

			jp.cut(mode == "hanging")
			next := keyIn(t, listKeys(t, auth), "next")
			waitPublishedFor(t, auth, next, time.Second)
			auth.MustCLI("keys", "rotate")
			waitSigningKID(t, c, user, next.KID, auth)
			rotated := c.login(auth.URL, user).AccessToken
			good := []string{known, rotated}
			ftWantVerified(t, c, res, good)

			// Unknown kids, until the resource server has tried (and failed) to refresh.
			forged := ftForge(t, known, "ft-unknown-kid")
			finish := ftPresent(t, c, res, forged)
			if mode == "hanging" {
				if !poll(time.Minute, func() bool { return jp.hanging.Load() > 0 }) {
					t.Fatal("the resource server never tried to fetch the JWKS")
				}
				ftWantVerified(t, c, res, good)
				if jp.hanging.Load() == 0 {
					t.Errorf("known tokens were answered only after the hanging JWKS fetch ended")
				}
			}
			if !poll(time.Minute, func() bool { return ftMetric(t, c, res, ftJWKSErrors) >= 1 }) {
				t.Fatalf("no failed JWKS refresh within a minute of cutting the JWKS off")
			}
			seen := finish()
			ftWantVerified(t, c, res, good)
			for code, n := range seen {
				if code != http.StatusUnauthorized {
					t.Errorf("a token with an unknown kid got %d (%d times), want 401", code, n)
				}
			}
			if len(seen) == 0 {
				t.Errorf("no token with an unknown kid was answered")
			}
		})
	}
}

// ftJWKSErrors is the resource server's count of failed JWKS fetches.
const ftJWKSErrors = `resource_jwks_refreshes_total{result="error"}`

// ftWantVerified checks that every token is accepted by /whoami and that /readyz is 200.
func ftWantVerified(t *testing.T, c *Client, res *Proc, tokens []string) {
	t.Helper()
	for _, tok := range tokens {
		c.Get(res.URL+"/whoami", bearer(tok)).Want(t, http.StatusOK)
	}
	c.Get(res.URL+"/readyz").Want(t, http.StatusOK)
}

// ftPresent sends tok to /whoami over and over (a transport error fails the test) until the
// returned function is called (or the test ends); that function returns the count of each
// status.
func ftPresent(t *testing.T, c *Client, res *Proc, tok string) func() map[int]int {
	stop, done := make(chan struct{}), make(chan map[int]int, 1)
	go func() {
		seen := map[int]int{}
		defer func() { done <- seen }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(pollEvery):
			}
			r, err := c.TrySend(http.MethodGet, res.URL+"/whoami", nil, bearer(tok))
			if err != nil {
				t.Errorf("GET /whoami with an unknown kid: %v", err)
				return
			}
			seen[r.StatusCode]++
		}
	}()
	var once sync.Once
	var seen map[int]int
	finish := func() map[int]int {
		once.Do(func() { close(stop); seen = <-done })
		return seen
	}
	t.Cleanup(func() { finish() })
	return finish
}

// ftMetric is the value of one sample of p's /metrics (0 when absent).
func ftMetric(t *testing.T, c *Client, p *Proc, sample string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(string(c.Get(p.URL+"/metrics").Want(t, http.StatusOK).Body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}

// ftForge returns a token with the claims of like (a fresh jti), signed with a key of the
// test's own under kid.
func ftForge(t *testing.T, like, kid string) string {
	t.Helper()
	claims := jwtClaims(t, like)
	claims["jti"] = uuid.NewString()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ftJWKSProxy stands between a resource server and the auth server's JWKS: it forwards until
// cut, then either refuses connections (closed) or accepts requests and never answers them.
type ftJWKSProxy struct {
	srv     *httptest.Server
	hang    atomic.Bool
	hanging atomic.Int32 // requests being held now
	release chan struct{}
}

func ftNewJWKSProxy(t *testing.T, authURL string) *ftJWKSProxy {
	t.Helper()
	target, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	jp := &ftJWKSProxy{release: make(chan struct{})}
	jp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !jp.hang.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		jp.hanging.Add(1)
		defer jp.hanging.Add(-1)
		select {
		case <-r.Context().Done():
		case <-jp.release:
		}
	}))
	t.Cleanup(func() { close(jp.release); jp.srv.Close() })
	return jp
}

// cut makes the JWKS unreachable: held forever when hang, else refused.
func (jp *ftJWKSProxy) cut(hang bool) {
	if hang {
		jp.hang.Store(true)
		return
	}
	jp.srv.Close()
}
