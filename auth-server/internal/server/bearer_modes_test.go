package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// bearerTour calls every Bearer endpoint of the auth server with access tokens from /login
// and wants each to succeed (CONTRACT §3: every Bearer endpoint accepts the tokens of every
// mode, HS256 included).
func bearerTour(t *testing.T, e *env) {
	t.Helper()
	e.signup("tourist", "tourist@example.com", "password1")
	a, b, c := e.newSession("tourist", "password1"), e.newSession("tourist", "password1"), e.newSession("tourist", "password1")
	steps := []struct {
		method, path string
		body         any
		tok          string
		want         int
	}{
		{"GET", "/me", nil, a.at, http.StatusOK},
		{"PATCH", "/me", map[string]string{"email": "tourist2@example.com"}, a.at, http.StatusOK},
		{"GET", "/sessions", nil, a.at, http.StatusOK},
		{"DELETE", "/sessions/" + b.sid, nil, a.at, http.StatusNoContent},
		{"POST", "/password", map[string]string{"current_password": "password1", "new_password": "password2"}, a.at, http.StatusNoContent},
		{"POST", "/revoke", url.Values{"token": {a.at}}, "", http.StatusOK},
		{"GET", "/me", nil, a.at, http.StatusUnauthorized}, // revoked by its access token just above
	}
	for _, s := range steps {
		var h []string
		if s.tok != "" {
			h = bearer(s.tok)
		}
		if r := e.do(s.method, s.path, s.body, h...); r.Status != s.want {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, r.Status, r.Raw, s.want)
		}
	}
	_ = c // ended by the password change
	d := e.newSession("tourist", "password2")
	if r := e.do("DELETE", "/me", map[string]string{"password": "password2"}, bearer(d.at)...); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE /me: %d %s, want 204", r.Status, r.Raw)
	}
}

// Defect 1 of issue 12: in HS256 mode the auth server refused its own access tokens on every
// Bearer endpoint (its HS256 key lookup demanded a kid, and HS256 tokens carry none).
func TestBearerEndpointsHS256(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		bearerTour(t, newHS256Env(t, d))
	})
}

func TestBearerEndpointsES256(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		bearerTour(t, newEnv(t, d))
	})
}
