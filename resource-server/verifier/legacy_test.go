package verifier

import (
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// mintHS256 signs f.claims() (after edit) with secret.
func (f *fixture) mintHS256(t testing.TB, secret []byte, edit func(c map[string]any)) string {
	t.Helper()
	claims := f.claims()
	if edit != nil {
		edit(claims)
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	return signWith(t, jose.HS256, secret, opts, claims)
}

func TestHS256Mode(t *testing.T) {
	f := newFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	v := startVerifier(t, Config{
		Issuer: testIssuer, Audience: []string{testAudience},
		HS256Secret: secret, JWKSURL: f.trap.URL, Now: f.clock.Now,
	})
	if !v.Ready() {
		t.Fatal("HS256 mode not Ready")
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"HS256 with the secret", f.mintHS256(t, secret, nil), nil},
		{"HS256 with another secret", f.mintHS256(t, []byte(strings.Repeat("x", 32)), nil), ErrSignature},
		{"HS256 expired", f.mintHS256(t, secret, func(c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Hour).Unix() }), ErrExpired},
		{"ES256", f.mint(t, f.es, nil), ErrAlgorithm},
		{"alg none", rawToken(t, map[string]any{"alg": "none", "typ": "at+jwt"}, f.claims(), ""), ErrAlgorithm},
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
		t.Fatalf("HS256 mode made %d JWKS requests", n)
	}
}

func TestLegacyHS256Window(t *testing.T) {
	f := newFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	cfg := f.config()
	cfg.HS256Secret = secret
	cfg.LegacyHS256Until = f.clock.Now().Add(time.Hour)
	v := startVerifier(t, cfg)
	longLived := func(c map[string]any) { c["exp"] = f.clock.Now().Add(3 * time.Hour).Unix() }
	cached := f.mintHS256(t, secret, longLived)

	steps := []struct {
		name    string
		advance time.Duration
		token   func() string
		want    error
	}{
		{"HS256 inside the window", 0, func() string { return cached }, nil},
		{"ES256 inside the window", 0, func() string { return f.mint(t, f.es, nil) }, nil},
		{"cached HS256 just before the end", 59 * time.Minute, func() string { return cached }, nil},
		{"fresh HS256 just before the end", 0, func() string { return f.mintHS256(t, secret, longLived) }, nil},
		{"cached HS256 after the end", 2 * time.Minute, func() string { return cached }, ErrAlgorithm},
		{"fresh HS256 after the end", 0, func() string { return f.mintHS256(t, secret, longLived) }, ErrAlgorithm},
		{"ES256 after the end", 0, func() string { return f.mint(t, f.es, nil) }, nil},
	}
	for _, s := range steps {
		f.clock.Advance(s.advance)
		_, err := v.Verify(t.Context(), s.token())
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: Verify = %v, want %v", s.name, err, s.want)
		}
	}
}
