package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// A login's access token verifies with a third-party library (golang-jwt + keyfunc) against
// the served JWKS, with the claims of CONTRACT §3.
func TestAccessTokenVerifiesWithGolangJWTAndKeyfunc(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("ivan", "ivan@example.com", "password1")
		r := e.login("ivan", "password1")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{e.srv.URL + "/.well-known/jwks.json"})
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(r.str("access_token"), claims, kf.Keyfunc,
			jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("http://auth.test"),
			jwt.WithAudience("resource-server"), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		if err != nil || !tok.Valid {
			t.Fatalf("third-party verification failed: %v", err)
		}
		if tok.Header["typ"] != "at+jwt" || tok.Header["kid"] == "" {
			t.Errorf("header = %v", tok.Header)
		}
		user := su.Body["user"].(map[string]any)
		for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "preferred_username", "email"} {
			if _, ok := claims[c]; !ok {
				t.Errorf("claim %s missing", c)
			}
		}
		if claims["sub"] != user["id"] || claims["preferred_username"] != "ivan" || claims["email"] != "ivan@example.com" {
			t.Errorf("claims = %v", claims)
		}
	})
}

func TestJWKSCaching(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := e.do("GET", "/.well-known/jwks.json", nil)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "public, max-age=300" || r.Header.Get("ETag") == "" {
			t.Fatalf("%d %v", r.Status, r.Header)
		}
		ks, _ := r.Body["keys"].([]any)
		if len(ks) != 4 { // ES256 (access tokens) and RS256 (ID tokens)
			t.Fatalf("want current and next keys of ES256 and RS256 published, got %d", len(ks))
		}
		for _, k := range ks {
			m := k.(map[string]any)
			if (m["alg"] != "ES256" && m["alg"] != "RS256") || m["use"] != "sig" || m["kid"] == "" || m["d"] != nil {
				t.Errorf("key %v", m)
			}
		}
		nm := e.do("GET", "/.well-known/jwks.json", nil, "If-None-Match", r.Header.Get("ETag"))
		if nm.Status != http.StatusNotModified || len(nm.Raw) != 0 {
			t.Errorf("If-None-Match: %d %q", nm.Status, nm.Raw)
		}
		if other := e.do("GET", "/.well-known/jwks.json", nil, "If-None-Match", `"other"`); other.Status != 200 {
			t.Errorf("stale etag: %d", other.Status)
		}
	})
}

func TestMetadata(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			r := e.do("GET", p, nil)
			if r.Status != 200 || r.str("issuer") != "http://auth.test" || r.str("jwks_uri") != "http://auth.test/.well-known/jwks.json" ||
				r.str("token_endpoint") != "http://auth.test/token" || r.str("revocation_endpoint") != "http://auth.test/revoke" {
				t.Errorf("%s: %s", p, r.Raw)
			}
			for _, f := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported"} {
				if _, ok := r.Body[f].([]any); !ok {
					t.Errorf("%s: %s missing", p, f)
				}
			}
		}
	})
}

func TestMeAndBearerErrors(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		tok := e.signup("judy", "judy@example.com", "password1").str("access_token")
		r := e.do("GET", "/me", nil, bearer(tok)...)
		if r.Status != 200 || r.str("username") != "judy" || r.str("email") != "judy@example.com" {
			t.Fatalf("/me: %d %s", r.Status, r.Raw)
		}
		missing := e.do("GET", "/me", nil)
		if missing.Status != 401 || missing.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("missing token: %d %q", missing.Status, missing.Header.Get("WWW-Authenticate"))
		}
		parts := strings.Split(tok, ".")
		for name, bad := range map[string]string{
			"garbage":   "garbage",
			"tampered":  parts[0] + "." + parts[1] + "x." + parts[2],
			"truncated": parts[0] + "." + parts[1] + "." + parts[2][:10],
			"alg none":  "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
		} {
			r := e.do("GET", "/me", nil, bearer(bad)...)
			if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: %d %q", name, r.Status, r.Header.Get("WWW-Authenticate"))
			}
		}
	})
}

func TestPatchAndDeleteMe(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("other", "other@example.com", "password1")
		tok := e.signup("kate", "kate@example.com", "password1").str("access_token")
		if r := e.do("PATCH", "/me", map[string]string{"username": "Other"}, bearer(tok)...); r.Status != 409 {
			t.Errorf("taken username: %d", r.Status)
		}
		if r := e.do("PATCH", "/me", map[string]string{"email": "bad"}, bearer(tok)...); r.Status != 400 {
			t.Errorf("bad email: %d", r.Status)
		}
		r := e.do("PATCH", "/me", map[string]string{"username": "Katherine", "email": "KATH@example.com"}, bearer(tok)...)
		if r.Status != 200 || r.str("username") != "katherine" || r.str("email") != "kath@example.com" {
			t.Fatalf("patch: %d %s", r.Status, r.Raw)
		}
		if r := e.login("katherine", "password1"); r.Status != 200 {
			t.Errorf("login with new name: %d", r.Status)
		}
		if r := e.do("DELETE", "/me", map[string]string{"password": "wrong-pass"}, bearer(tok)...); r.Status != 403 || r.str("error") != "invalid_password" {
			t.Errorf("delete wrong password: %d %s", r.Status, r.Raw)
		}
		if r := e.do("DELETE", "/me", map[string]string{"password": "password1"}, bearer(tok)...); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Raw)
		}
		if r := e.do("GET", "/me", nil, bearer(tok)...); r.Status != 401 {
			t.Errorf("/me after delete: %d", r.Status)
		}
		if r := e.login("katherine", "password1"); r.Status != 401 {
			t.Errorf("login after delete: %d", r.Status)
		}
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM outbox_events WHERE kind = 'user.delete'`); err != nil || n != 1 {
			t.Errorf("delete events = %d, %v", n, err)
		}
	})
}
