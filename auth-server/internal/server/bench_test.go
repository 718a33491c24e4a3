package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
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
	cookie, _, err := e.accounts.BrowserLogin(context.Background(), "benchuser", "bench password 1", account.Client{})
	if err != nil {
		b.Fatal(err)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"https://app.example/cb"}, "scope": {"profile"},
		"state": {"s1"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
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
