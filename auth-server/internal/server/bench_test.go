package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

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
