package verifier

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://auth.test"
	testAudience = "resource-server"
	testSubject  = "0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10"
)

// fakeClock is the injected clock of the tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKey is a signing key and the kid/alg it is published under.
type testKey struct {
	kid, alg string
	priv     crypto.Signer
}

func newTestKey(t testing.TB, alg, kid string) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unsupported test alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: alg, priv: priv}
}

func (k testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// jwksServer is the fake key server: it serves the published keys with a long
// max-age, counts requests, and can be taken down.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	down atomic.Bool
	body atomic.Pointer[[]byte]
}

func newJWKSServer(t testing.TB, keys ...testKey) *jwksServer {
	s := &jwksServer{}
	s.publish(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t testing.TB, keys ...testKey) {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&b)
}

// fixture bundles keys, a JWKS server serving es, rs and ed, a trap server that
// no test may cause a request to, and a clock.
type fixture struct {
	clock           *fakeClock
	es, rs, ed, gho testKey // gho(st) is never published
	jwks, trap      *jwksServer
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{
		clock: newClock(),
		es:    newTestKey(t, ES256, "es-1"),
		rs:    newTestKey(t, RS256, "rs-1"),
		ed:    newTestKey(t, EdDSA, "ed-1"),
		gho:   newTestKey(t, ES256, "ghost"),
	}
	f.jwks = newJWKSServer(t, f.es, f.rs, f.ed)
	f.trap = newJWKSServer(t, f.gho)
	return f
}

func (f *fixture) config() Config {
	return Config{
		Issuer:             testIssuer,
		Audience:           []string{testAudience},
		JWKSURL:            f.jwks.URL,
		Algorithms:         []string{ES256, RS256, EdDSA},
		MinRefreshInterval: 30 * time.Second,
		Now:                f.clock.Now,
	}
}

// startVerifier builds a Verifier whose background goroutine ends with the test.
func startVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func (f *fixture) claims() map[string]any {
	now := f.clock.Now()
	return map[string]any{
		"iss": testIssuer, "sub": testSubject, "aud": testAudience,
		"exp": now.Add(15 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": rand.Text(), "sid": "session-1",
		"preferred_username": "alice", "email": "alice@example.com",
	}
}

// mint signs f.claims() with k (typ at+jwt, kid k.kid) after edit changed the
// signer options and claims; a claim set to nil is removed.
func (f *fixture) mint(t testing.TB, k testKey, edit func(o *jose.SignerOptions, c map[string]any)) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.kid)
	claims := f.claims()
	if edit != nil {
		edit(opts, claims)
	}
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil })
	return signWith(t, jose.SignatureAlgorithm(k.alg), k.priv, opts, claims)
}

func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken assembles a compact JWS from JSON-encoded parts and a literal
// signature segment, for tokens go-jose refuses to produce.
func rawToken(t testing.TB, header, claims any, sig string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return fmt.Sprintf("%s.%s.%s", enc(header), enc(claims), sig)
}

// countingObserver counts Observer events.
type countingObserver struct {
	hits, misses, refreshes, refreshErrs atomic.Int64
}

func (o *countingObserver) CacheHit()  { o.hits.Add(1) }
func (o *countingObserver) CacheMiss() { o.misses.Add(1) }
func (o *countingObserver) JWKSRefresh(err error) {
	o.refreshes.Add(1)
	if err != nil {
		o.refreshErrs.Add(1)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
