package verifier

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksOf is the JWKS document publishing keys.
func jwksOf(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A Verifier on a StaticKeySet of a local JWKS (the auth server's own check) applies every
// rule of the remote set and never makes a request.
func TestStaticJWKSKeySet(t *testing.T) {
	f := newFixture(t)
	ks, err := NewJWKSKeySet(t.Context(), jwksOf(t, f.es, f.ed), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.JWKSURL, cfg.KeySet = "", ks
	v := startVerifier(t, cfg)
	if !v.Ready() {
		t.Fatal("static key set not Ready")
	}
	secret := []byte(strings.Repeat("k", 32))
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"ES256", f.mint(t, f.es, nil), nil},
		{"EdDSA", f.mint(t, f.ed, nil), nil},
		{"RS256 not in the set", f.mint(t, f.rs, nil), ErrUnknownKey},
		{"unknown kid", f.mint(t, f.gho, nil), ErrUnknownKey},
		{"no kid", f.mint(t, f.es, func(o *jose.SignerOptions, _ map[string]any) { delete(o.ExtraHeaders, "kid") }), ErrUnknownKey},
		{"kid of another alg's key", f.mint(t, testKey{kid: "ed-1", alg: ES256, priv: f.es.priv}, nil), ErrAlgorithm},
		{"HS256 not configured", f.mintHS256(t, secret, nil), ErrAlgorithm},
		{"jwk header", f.mint(t, f.es, func(o *jose.SignerOptions, _ map[string]any) { o.EmbedJWK = true }), ErrAlgorithm},
		{"no jti", f.mint(t, f.es, func(_ *jose.SignerOptions, c map[string]any) { c["jti"] = nil }), ErrMissingClaim},
		{"no iat", f.mint(t, f.es, func(_ *jose.SignerOptions, c map[string]any) { c["iat"] = nil }), ErrMissingClaim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tc.token)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if n := f.trap.hits.Load() + f.jwks.hits.Load(); n != 0 {
		t.Fatalf("a static key set made %d JWKS requests", n)
	}
}

// A rebuilt StaticKeySet keeps the *Key of unchanged keys (cached tokens stay cached) and
// drops removed ones.
func TestStaticJWKSKeySetRebuild(t *testing.T) {
	f := newFixture(t)
	first, err := NewJWKSKeySet(t.Context(), jwksOf(t, f.es, f.ed), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := NewJWKSKeySet(t.Context(), jwksOf(t, f.es), first, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	es, err := first.Key(t.Context(), ES256, "es-1", now)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := first.Key(t.Context(), EdDSA, "ed-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Holds(es, now) || second.Holds(ed, now) || second.Len() != 1 {
		t.Fatalf("rebuilt set: holds es %v, holds ed %v, len %d", second.Holds(es, now), second.Holds(ed, now), second.Len())
	}
	if _, err := NewJWKSKeySet(t.Context(), []byte(`{}`), nil, nil); err == nil {
		t.Fatal("a document without keys made a key set")
	}
}

// HS256 tokens carry no kid; the HS256 set serves them whatever kid they name, or none.
func TestHS256KeySetIgnoresKID(t *testing.T) {
	f := newFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	v := startVerifier(t, Config{Issuer: testIssuer, Audience: []string{testAudience}, HS256Secret: secret, Now: f.clock.Now})
	withKID := signWith(t, jose.HS256, secret, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "anything"), f.claims())
	for name, tok := range map[string]string{"no kid": f.mintHS256(t, secret, nil), "some kid": withKID} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewHS256KeySet(secret[:31]); !errors.Is(err, ErrConfig) {
		t.Errorf("31-byte secret: %v, want ErrConfig", err)
	}
}

func TestKeySetConfig(t *testing.T) {
	f := newFixture(t)
	ks, err := NewHS256KeySet([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	both := f.config()
	both.KeySet = ks
	hsMode := Config{Issuer: testIssuer, Audience: []string{testAudience}, HS256Secret: []byte(strings.Repeat("k", 32)), KeySet: ks}
	for name, cfg := range map[string]Config{"KeySet and JWKSURL": both, "KeySet in HS256 mode": hsMode} {
		if _, err := New(t.Context(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// LegacyHS256 around a static set: HS256 until the end of the window, the set's keys always.
func TestLegacyHS256OverStaticSet(t *testing.T) {
	f := newFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	ks, err := NewJWKSKeySet(t.Context(), jwksOf(t, f.es), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.JWKSURL, cfg.KeySet, cfg.HS256Secret, cfg.LegacyHS256Until = "", ks, secret, f.clock.Now().Add(time.Minute)
	v := startVerifier(t, cfg)
	hs := f.mintHS256(t, secret, nil)
	if _, err := v.Verify(t.Context(), hs); err != nil {
		t.Fatalf("HS256 in the window: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), hs); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("HS256 after the window: %v, want ErrAlgorithm", err)
	}
	if _, err := v.Verify(t.Context(), f.mint(t, f.es, nil)); err != nil {
		t.Fatalf("ES256 after the window: %v", err)
	}
}
