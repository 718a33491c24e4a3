package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/httpapi/httpapitest"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// bearerRequest is a GET of path with token. Its context can be canceled, as net/http's
// are: database/sql and the drivers start goroutines to watch such contexts.
func bearerRequest(b *testing.B, path, token string) *http.Request {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// BenchmarkWhoamiCached is /whoami with the same token repeated: the verifier's cache hit,
// the middleware, routing, metrics and the claims' JSON.
func BenchmarkWhoamiCached(b *testing.B) {
	h := newHarness(b)
	httpapitest.ServeLoop(b, h.h, bearerRequest(b, "/whoami", h.token(b, aliceID, "alice")))
}

// BenchmarkWhoamiCachedParallel is BenchmarkWhoamiCached from every CPU: the verifier's
// cache and the metrics under contention.
func BenchmarkWhoamiCachedParallel(b *testing.B) {
	h := newHarness(b)
	tok := h.token(b, aliceID, "alice")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w, r := httpapitest.NewDiscardWriter(), bearerRequest(b, "/whoami", tok)
		for pb.Next() {
			w.Reset()
			h.h.ServeHTTP(w, r)
			if w.Status() != http.StatusOK {
				b.Errorf("status %d", w.Status())
				return
			}
		}
	})
}

// BenchmarkAwesomeApp is /awesome_app on SQLite: a cached token and one read of the app
// database.
func BenchmarkAwesomeApp(b *testing.B) {
	h := newHarness(b)
	httpapitest.ServeLoop(b, h.h, bearerRequest(b, "/awesome_app", h.token(b, aliceID, "alice")))
}

// BenchmarkAwesomeAppPostgres is BenchmarkAwesomeApp on PostgreSQL (TEST_DATABASE_URL).
func BenchmarkAwesomeAppPostgres(b *testing.B) {
	h := newHarnessOn(b, testdb.Open(b, testdb.PostgresURL(b), db.AppSchema))
	httpapitest.ServeLoop(b, h.h, bearerRequest(b, "/awesome_app", h.token(b, aliceID, "alice")))
}

// BenchmarkAwesomeAppPostgresParallel is BenchmarkAwesomeAppPostgres with 16 requests in
// flight, as the load benchmark sends them: throughput rather than round-trip latency.
func BenchmarkAwesomeAppPostgresParallel(b *testing.B) {
	h := newHarnessOn(b, testdb.Open(b, testdb.PostgresURL(b), db.AppSchema))
	tok := h.token(b, aliceID, "alice")
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w, r := httpapitest.NewDiscardWriter(), bearerRequest(b, "/awesome_app", tok)
		for pb.Next() {
			w.Reset()
			h.h.ServeHTTP(w, r)
			if w.Status() != http.StatusOK {
				b.Errorf("status %d", w.Status())
				return
			}
		}
	})
}
