package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// payloadOf decodes the claims of a JWT without verifying it.
func payloadOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// signClaims signs claims with k, typ at+jwt, and the extra header members.
func signClaims(t testing.TB, k jose.SigningKey, claims map[string]any, embedJWK bool, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embedJWK, ExtraHeaders: map[jose.HeaderKey]any{"typ": "at+jwt"}}
	for h, v := range extra {
		opts.ExtraHeaders[h] = v
	}
	signer, err := jose.NewSigner(k, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The auth server's Bearer check is the public verifier's: jti and iat required, no key
// from the token, the algorithm pinned, CLOCK_LEEWAY (30 s here) on exp, nbf and iat. Each
// token below belongs to a live session, so only the rule decides.
func bearerRules(t *testing.T, e *env, key jose.SigningKey) {
	e.signup("strict", "strict@example.com", "password1")
	s := e.newSession("strict", "password1")
	base, now := payloadOf(t, s.at), e.clock.Now().Unix()
	with := func(kv ...any) map[string]any {
		c := map[string]any{}
		for k, v := range base {
			c[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	hs := jose.SigningKey{Algorithm: jose.HS256, Key: []byte("another-secret-of-at-least-32-bytes!!")}
	cases := []struct {
		name string
		tok  string
		want int
	}{
		{"as issued", s.at, http.StatusOK},
		{"re-signed unchanged", signClaims(t, key, base, false, nil), http.StatusOK},
		{"no jti", signClaims(t, key, with("jti", nil), false, nil), http.StatusUnauthorized},
		{"no iat", signClaims(t, key, with("iat", nil), false, nil), http.StatusUnauthorized},
		{"no sub", signClaims(t, key, with("sub", nil), false, nil), http.StatusUnauthorized},
		{"jwk header", signClaims(t, key, base, false, map[jose.HeaderKey]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}), http.StatusUnauthorized},
		{"x5u header", signClaims(t, key, base, false, map[jose.HeaderKey]any{"x5u": "https://evil.test/k"}), http.StatusUnauthorized},
		{"jku header", signClaims(t, key, base, false, map[jose.HeaderKey]any{"jku": "https://evil.test/k"}), http.StatusUnauthorized},
		{"typ JWT", signClaims(t, key, base, false, map[jose.HeaderKey]any{"typ": "JWT"}), http.StatusUnauthorized},
		{"HS256 of another secret", signClaims(t, hs, base, false, nil), http.StatusUnauthorized},
		{"expired inside the leeway", signClaims(t, key, with("exp", now-20), false, nil), http.StatusOK},
		{"expired beyond the leeway", signClaims(t, key, with("exp", now-31), false, nil), http.StatusUnauthorized},
		{"iat ahead inside the leeway", signClaims(t, key, with("iat", now+20, "nbf", now+20), false, nil), http.StatusOK},
		{"iat ahead beyond the leeway", signClaims(t, key, with("iat", now+40, "nbf", now), false, nil), http.StatusUnauthorized},
		{"nbf ahead beyond the leeway", signClaims(t, key, with("nbf", now+40), false, nil), http.StatusUnauthorized},
		{"other audience", signClaims(t, key, with("aud", "elsewhere"), false, nil), http.StatusUnauthorized},
		{"other issuer", signClaims(t, key, with("iss", "http://evil.test"), false, nil), http.StatusUnauthorized},
	}
	if key.Algorithm != jose.HS256 { // go-jose embeds only public keys
		cases = append(cases, struct {
			name string
			tok  string
			want int
		}{"embedded jwk of the server's key", signClaims(t, key, base, true, nil), http.StatusUnauthorized})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.do("GET", "/me", nil, bearer(tc.tok)...); r.Status != tc.want {
				t.Fatalf("GET /me: %d %s, want %d", r.Status, r.Raw, tc.want)
			}
		})
	}
	// /revoke with a token the check refuses revokes nothing.
	if r := e.do("POST", "/revoke", map[string]string{"token": signClaims(t, key, with("jti", nil), false, nil)}); r.Status != http.StatusOK {
		t.Fatalf("/revoke: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/me", nil, bearer(s.at)...); r.Status != http.StatusOK {
		t.Fatalf("a refused token revoked its session: /me %d", r.Status)
	}
}

func TestBearerRulesES256(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		key, err := e.ring.SigningKey()
		if err != nil {
			t.Fatal(err)
		}
		bearerRules(t, e, key)
	})
}

func TestBearerRulesHS256(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		bearerRules(t, newHS256Env(t, d), jose.SigningKey{Algorithm: jose.HS256, Key: testSecret})
	})
}

// The leeway is CLOCK_LEEWAY's, not a constant: the clock moves past exp+leeway and the
// token issued at the start stops working.
func TestBearerLeewayFollowsClock(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("late", "late@example.com", "password1")
		s := e.newSession("late", "password1")
		e.clock.Advance(defaultKeyPolicy.AccessTTL + testLeeway - time.Second)
		if r := e.do("GET", "/me", nil, bearer(s.at)...); r.Status != http.StatusOK {
			t.Fatalf("1s before exp+leeway: %d %s", r.Status, r.Raw)
		}
		e.clock.Advance(time.Second)
		if r := e.do("GET", "/me", nil, bearer(s.at)...); r.Status != http.StatusUnauthorized {
			t.Fatalf("at exp+leeway: %d, want 401", r.Status)
		}
	})
}
