package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// discardWriter is a ResponseWriter that keeps only the status, so a benchmark measures the
// server's handler and not a recorder's buffer.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchGet sends GET path to the auth server b.N times, through the middleware, routing and
// metrics, and fails on any status but 200.
func benchGet(b *testing.B, path string) {
	e := newEnv(b, testdb.Open(b, testdb.SQLiteURL(b), db.AuthSchema))
	h := e.srv.Config.Handler
	r := httptest.NewRequest(http.MethodGet, path, nil)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.status = http.StatusOK
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkJWKS is GET /.well-known/jwks.json: the middleware's cost around a cached body.
func BenchmarkJWKS(b *testing.B) { benchGet(b, "/.well-known/jwks.json") }

// BenchmarkHealthz is GET /healthz: the middleware's cost around the cheapest handler.
func BenchmarkHealthz(b *testing.B) { benchGet(b, "/healthz") }
