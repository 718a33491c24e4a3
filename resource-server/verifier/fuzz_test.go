package verifier

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzVerify: Verify must never panic, must return exactly one of claims and
// error, must map every error to a sentinel, and must accept nothing but the
// tokens that were really signed (the fuzzer cannot forge a signature, and
// strict base64 leaves no second spelling of a token).
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	v := startVerifier(f, fx.config())
	valid := map[string]bool{}
	for _, k := range []testKey{fx.es, fx.rs, fx.ed} {
		tok := fx.mint(f, k, nil)
		valid[tok] = true
		f.Add(tok)
	}
	es := fx.mint(f, fx.es, nil)
	parts := strings.Split(es, ".")
	for _, seed := range []string{
		rawToken(f, map[string]any{"alg": "none", "typ": "at+jwt"}, fx.claims(), ""),
		rawToken(f, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "es-1"}, fx.claims(), parts[2]),
		rawToken(f, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "es-1", "jku": "http://x"}, fx.claims(), parts[2]),
		fx.mint(f, fx.gho, nil),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"..", ".", "", "e30.e30.e30", "not a token",
		strings.Repeat("A", MaxTokenSize+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if (c == nil) == (err == nil) {
			t.Fatalf("claims %v with error %v", c, err)
		}
		if err == nil && !valid[token] {
			t.Fatalf("accepted a token nobody signed: %q", token)
		}
		if err != nil && Description(err) == "invalid token" && !errors.Is(err, context.Canceled) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	})
}
