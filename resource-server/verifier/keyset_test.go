package verifier

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// verifyAll verifies tokens concurrently and returns the errors in order.
func verifyAll(v *Verifier, tokens []string) []error {
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, tok := range tokens {
		wg.Go(func() {
			<-start
			_, errs[i] = v.Verify(context.Background(), tok)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func mintN(t testing.TB, f *fixture, k testKey, n int) []string {
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = f.mint(t, k, nil)
	}
	return tokens
}

func TestUnknownKidStormFetchesOnce(t *testing.T) {
	f := newFixture(t)
	v := startVerifier(t, f.config())
	if got := f.jwks.hits.Load(); got != 1 {
		t.Fatalf("fetches after New = %d, want 1", got)
	}
	rotated := newTestKey(t, ES256, "es-2")
	f.jwks.publish(t, f.es, rotated)
	f.clock.Advance(31 * time.Second)

	for i, err := range verifyAll(v, mintN(t, f, rotated, 200)) {
		if err != nil {
			t.Fatalf("token %d signed by the new key: %v", i, err)
		}
	}
	if got := f.jwks.hits.Load(); got != 2 {
		t.Fatalf("fetches after a storm of 200 new-kid tokens = %d, want 2", got)
	}
	for i, err := range verifyAll(v, mintN(t, f, f.gho, 200)) {
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("ghost token %d: %v, want ErrUnknownKey", i, err)
		}
	}
	if got := f.jwks.hits.Load(); got != 2 {
		t.Fatalf("fetches after unknown-kid storm within MinRefreshInterval = %d, want 2", got)
	}
	f.clock.Advance(31 * time.Second)
	verifyAll(v, mintN(t, f, f.gho, 50))
	if got := f.jwks.hits.Load(); got != 3 {
		t.Fatalf("fetches after the interval passed = %d, want 3", got)
	}
}

func TestExpiredTokenNeverFetches(t *testing.T) {
	f := newFixture(t)
	f.jwks.down.Store(true)
	v := startVerifier(t, f.config())
	if v.Ready() {
		t.Fatal("Ready with the JWKS down")
	}
	f.clock.Advance(time.Hour)
	before := f.jwks.hits.Load()
	tok := f.mint(t, f.gho, setClaim("exp", f.clock.Now().Add(-time.Minute).Unix()))
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify = %v, want ErrExpired", err)
	}
	if got := f.jwks.hits.Load() - before; got != 0 {
		t.Fatalf("expired token caused %d fetches", got)
	}
}

func TestJWKSDownKeepsKnownKeys(t *testing.T) {
	f := newFixture(t)
	obs := &countingObserver{}
	cfg := f.config()
	cfg.Observer = obs
	v := startVerifier(t, cfg)
	f.jwks.down.Store(true)
	f.clock.Advance(time.Minute)

	// An unknown kid triggers a refresh, which fails.
	if _, err := v.Verify(t.Context(), f.mint(t, f.gho, nil)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("ghost token: %v, want ErrUnknownKey", err)
	}
	if got := obs.refreshErrs.Load(); got != 1 {
		t.Fatalf("failed refreshes = %d, want 1", got)
	}
	for _, k := range []testKey{f.es, f.rs, f.ed} {
		if _, err := v.Verify(t.Context(), f.mint(t, k, nil)); err != nil {
			t.Fatalf("%s token with the JWKS down: %v", k.alg, err)
		}
	}
	if !v.Ready() {
		t.Fatal("not Ready after a failed refresh")
	}
}

func TestKeyRemovedStopsCachedTokens(t *testing.T) {
	f := newFixture(t)
	obs := &countingObserver{}
	cfg := f.config()
	cfg.Observer = obs
	v := startVerifier(t, cfg)
	tok := f.mint(t, f.es, nil)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}

	// A refresh returning the same keys keeps the cache entry.
	f.clock.Advance(time.Minute)
	_, _ = v.Verify(t.Context(), f.mint(t, f.gho, nil))
	if _, err := v.Verify(t.Context(), tok); err != nil || obs.hits.Load() != 1 {
		t.Fatalf("after unchanged refresh: err %v, cache hits %d, want nil, 1", err, obs.hits.Load())
	}

	// The key is revoked; the next refresh drops it and its cached token.
	f.jwks.publish(t, f.rs, f.ed)
	f.clock.Advance(time.Minute)
	_, _ = v.Verify(t.Context(), f.mint(t, f.gho, nil))
	if got := f.jwks.hits.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3", got)
	}
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("cached token of a removed key: %v, want ErrUnknownKey", err)
	}
}

func TestNeverLoadedThenRecovers(t *testing.T) {
	f := newFixture(t)
	f.jwks.down.Store(true)
	v := startVerifier(t, f.config())
	tok := f.mint(t, f.es, nil)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Verify before keys loaded: %v, want ErrKeysUnavailable", err)
	}
	f.jwks.down.Store(false)
	f.clock.Advance(31 * time.Second)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify after the JWKS came up: %v", err)
	}
	if !v.Ready() {
		t.Fatal("not Ready after a successful fetch")
	}
}

func TestWaitingCallerContextEnds(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			<-release
		}
		f.jwks.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cfg := f.config()
	cfg.JWKSURL = srv.URL
	v := startVerifier(t, cfg)
	slow.Store(true)
	f.clock.Advance(time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := v.Verify(ctx, f.mint(t, f.gho, nil)); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify = %v, want ErrKeysUnavailable wrapping DeadlineExceeded", err)
	}
}

func TestStoppedVerifierKeepsKeys(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	v, err := New(ctx, f.config())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, "refresher to stop", func() bool {
		select {
		case <-v.keys.(*remoteKeySet).stopped:
			return true
		default:
			return false
		}
	})
	f.clock.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), f.mint(t, f.gho, nil)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid after stop: %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(t.Context(), f.mint(t, f.es, nil)); err != nil {
		t.Fatalf("known kid after stop: %v", err)
	}
	if got := f.jwks.hits.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1 (none after stop)", got)
	}
}

// TestBackgroundRefresh: the refresher follows max-age (1s here) and revalidates
// with If-None-Match; a 304 keeps the keys.
func TestBackgroundRefresh(t *testing.T) {
	f := newFixture(t)
	var full, notModified atomic.Int64
	body, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{f.es.jwk()}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=1")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cfg := f.config()
	cfg.JWKSURL, cfg.MinRefreshInterval = srv.URL, 100*time.Millisecond
	v := startVerifier(t, cfg)
	waitFor(t, "two conditional refreshes", func() bool { return notModified.Load() >= 2 })
	if got := full.Load(); got != 1 {
		t.Errorf("full fetches = %d, want 1", got)
	}
	if _, err := v.Verify(t.Context(), f.mint(t, f.es, nil)); err != nil {
		t.Fatalf("Verify after 304s: %v", err)
	}
}

func TestRefreshSchedule(t *testing.T) {
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"public, max-age=300", 5 * time.Minute},
		{"max-age=0", 30 * time.Second},
		{"no-store", 30 * time.Second},
		{"max-age=86400", time.Hour},
		{`max-age="120"`, 2 * time.Minute},
		{"max-age=-5", 5 * time.Minute},
		{"max-age=abc", 5 * time.Minute},
		{"", 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Cache-Control", tc.header)
			}
			age, ok := cacheMaxAge(h)
			if got := nextInterval(age, ok, 30*time.Second); got != tc.want {
				t.Errorf("interval = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestParseJWKS: only usable public signing keys are kept.
func TestParseJWKS(t *testing.T) {
	f := newFixture(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	keys := []jose.JSONWebKey{
		{Key: f.es.priv, KeyID: "es-1", Algorithm: ES256, Use: "sig"}, // private member d present: refused
		f.ed.jwk(),
		{Key: f.rs.priv.Public(), KeyID: "enc", Algorithm: RS256, Use: "enc"},
		{Key: f.es.priv.Public(), KeyID: "no-alg"},
		{Key: f.es.priv.Public(), KeyID: "mismatch", Algorithm: RS256},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: HS256},
		{Key: f.gho.priv.Public(), KeyID: "es-1", Algorithm: ES256}, // same kid as the refused key: kept
		{Key: f.es.priv.Public(), KeyID: "es-1", Algorithm: ES256},  // duplicate kid: the first kept wins
		{Key: &weak.PublicKey, KeyID: "weak", Algorithm: RS256},
		{Key: f.gho.priv.Public(), Algorithm: ES256}, // no kid
	}
	body, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ks := newRemoteKeySet("http://unused", http.DefaultClient, time.Second, f.clock.Now, slog.New(slog.DiscardHandler), nopObserver{})
	got, err := ks.parseJWKS(t.Context(), body)
	if err != nil {
		t.Fatal(err)
	}
	kids := slices.Sorted(maps.Keys(got))
	if !slices.Equal(kids, []string{"ed-1", "es-1"}) {
		t.Fatalf("kids = %v, want [ed-1 es-1]", kids)
	}
	if !got["es-1"].equal(&Key{kid: "es-1", alg: ES256, material: f.gho.priv.Public()}) {
		t.Errorf("es-1 is not the first acceptable es-1 key: %T", got["es-1"].material)
	}
	for _, bad := range []string{`{}`, `[]`, `{"keys":`} {
		if _, err := ks.parseJWKS(t.Context(), []byte(bad)); err == nil {
			t.Errorf("parseJWKS(%s) succeeded", bad)
		}
	}
}

// A verifier started before its auth server loads the keys within seconds of the JWKS
// coming up, without waiting MinRefreshInterval and without any token asking for it.
func TestFirstLoadRetriesSoon(t *testing.T) {
	f := newFixture(t)
	f.jwks.down.Store(true)
	cfg := f.config() // MinRefreshInterval 30s
	v := startVerifier(t, cfg)
	if v.Ready() {
		t.Fatal("ready while the JWKS is down")
	}
	f.jwks.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("keys not loaded 10s after the JWKS came up (%d fetches)", f.jwks.hits.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
