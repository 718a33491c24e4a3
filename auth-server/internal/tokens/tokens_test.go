package tokens_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The access token's members as issued (CONTRACT §3): roles is always present, an empty
// array for now; amr is ["pwd"] (every session starts with a password); the header has typ
// at+jwt, and a kid except in HS256 mode (go-jose's symmetric signer writes none).
func TestAccessTokenMembers(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			tok, _, err := newIssuer(t, alg).Access(subject, "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60")
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			var header map[string]any
			var claims map[string]json.RawMessage
			decodePart(t, parts[0], &header)
			decodePart(t, parts[1], &claims)
			if header["typ"] != "at+jwt" || header["alg"] != alg || (alg != "HS256") != (header["kid"] != nil) {
				t.Errorf("header %v", header)
			}
			if got := string(claims["roles"]); got != "[]" {
				t.Errorf("roles = %s, want []", got)
			}
			if got := string(claims["amr"]); got != `["pwd"]` {
				t.Errorf("amr = %s, want [\"pwd\"]", got)
			}
			if got := string(claims["email_verified"]); got != "false" {
				t.Errorf("email_verified = %s, want false", got)
			}
			for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "preferred_username", "email"} {
				if claims[name] == nil {
					t.Errorf("no %s", name)
				}
			}
			for _, name := range []string{"client_id", "scope"} {
				if claims[name] != nil {
					t.Errorf("empty %s written: %s", name, claims[name])
				}
			}
		})
	}
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// A token issued after its user's tokens were revoked carries an iat of at least the
// revocation's whole-second not_before, so resource servers comparing whole seconds accept
// it; one issued later carries its own time.
func TestAccessTokenIatNotBeforeRevocation(t *testing.T) {
	iss := newIssuer(t, "ES256")
	for _, c := range []struct {
		name      string
		notBefore time.Time
		min       int64
	}{
		{"revoked in the next second", time.Now().Truncate(time.Second).Add(time.Second), time.Now().Truncate(time.Second).Add(time.Second).Unix()},
		{"revoked long ago", time.Now().Add(-time.Hour), time.Now().Unix() - 1},
	} {
		sub := subject
		sub.NotBefore = c.notBefore
		tok, exp, err := iss.Access(sub, "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60")
		if err != nil {
			t.Fatal(err)
		}
		var claims struct{ Iat, Exp int64 }
		decodePart(t, strings.Split(tok, ".")[1], &claims)
		if claims.Iat < c.min || claims.Iat > time.Now().Unix()+1 || claims.Exp != exp.Unix() || claims.Exp-claims.Iat != int64(iss.TTL()/time.Second) {
			t.Errorf("%s: iat %d exp %d; want iat in [%d, now+1] and exp = iat + ttl", c.name, claims.Iat, claims.Exp, c.min)
		}
	}
}
