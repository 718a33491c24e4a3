package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/httpapi/httpapitest"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// benchGet sends GET path to the auth server b.N times, through the middleware, routing and
// metrics, and fails on any status but 200.
func benchGet(b *testing.B, path string) {
	e := newEnv(b, testdb.Open(b, testdb.SQLiteURL(b), db.AuthSchema))
	httpapitest.ServeLoop(b, e.srv.Config.Handler, httptest.NewRequest(http.MethodGet, path, nil))
}

// BenchmarkJWKS is GET /.well-known/jwks.json: the middleware's cost around a cached body.
func BenchmarkJWKS(b *testing.B) { benchGet(b, "/.well-known/jwks.json") }

// BenchmarkHealthz is GET /healthz: the middleware's cost around the cheapest handler.
func BenchmarkHealthz(b *testing.B) { benchGet(b, "/healthz") }

// BenchmarkAuthorizeCookie is GET /authorize with a live login cookie: the client check, the
// login session's read and a sealed code, through the middleware (SQLite).
func BenchmarkAuthorizeCookie(b *testing.B) {
	e := newEnv(b, testdb.Open(b, testdb.SQLiteURL(b), db.AuthSchema))
	e.signup("benchuser", "bench@example.com", "bench password 1")
	id, _ := e.addClient(clients.Client{Name: "bench", RedirectURIs: []string{"https://app.example/cb"},
		Grants: []string{clients.GrantAuthorizationCode}, Scopes: []string{"profile"}})
	r := authorizeRequest(id, "https://app.example/cb", "profile", e.loginCookie("benchuser", "bench password 1"))
	w := httpapitest.NewDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		e.srv.Config.Handler.ServeHTTP(w, r)
		if w.Status() != http.StatusFound || !strings.Contains(w.Header().Get("Location"), "code=") {
			b.Fatalf("status %d, Location %q", w.Status(), w.Header().Get("Location"))
		}
	}
}
