package server_test

import (
	"context"
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

// serveLoop sends r to h b.N times and fails on any status but 200.
func serveLoop(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
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
	serveLoop(b, h.h, bearerRequest(b, "/whoami", h.token(b, aliceID, "alice")))
}

// BenchmarkWhoamiCachedParallel is BenchmarkWhoamiCached from every CPU: the verifier's
// cache and the metrics under contention.
func BenchmarkWhoamiCachedParallel(b *testing.B) {
	h := newHarness(b)
	tok := h.token(b, aliceID, "alice")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w, r := &discardWriter{header: http.Header{}}, bearerRequest(b, "/whoami", tok)
		for pb.Next() {
			clear(w.header)
			w.status = http.StatusOK
			h.h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}

// BenchmarkAwesomeApp is /awesome_app on SQLite: a cached token and one read of the app
// database.
func BenchmarkAwesomeApp(b *testing.B) {
	h := newHarness(b)
	serveLoop(b, h.h, bearerRequest(b, "/awesome_app", h.token(b, aliceID, "alice")))
}

// BenchmarkAwesomeAppPostgres is BenchmarkAwesomeApp on PostgreSQL (TEST_DATABASE_URL).
func BenchmarkAwesomeAppPostgres(b *testing.B) {
	h := newHarnessOn(b, testdb.Open(b, testdb.PostgresURL(b), db.AppSchema))
	serveLoop(b, h.h, bearerRequest(b, "/awesome_app", h.token(b, aliceID, "alice")))
}

// BenchmarkAwesomeAppPostgresParallel is BenchmarkAwesomeAppPostgres with 16 requests in
// flight, as the load benchmark sends them: throughput rather than round-trip latency.
func BenchmarkAwesomeAppPostgresParallel(b *testing.B) {
	h := newHarnessOn(b, testdb.Open(b, testdb.PostgresURL(b), db.AppSchema))
	tok := h.token(b, aliceID, "alice")
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w, r := &discardWriter{header: http.Header{}}, bearerRequest(b, "/awesome_app", tok)
		for pb.Next() {
			clear(w.header)
			w.status = http.StatusOK
			h.h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}
