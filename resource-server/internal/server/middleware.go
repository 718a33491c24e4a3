package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

// middleware wraps every request: request id, panic recovery, body limit, access log and
// metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		route := "other"
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		r = r.WithContext(context.WithValue(ctx, ctxRoute, &route))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "request_id", id, "path", r.URL.Path, "panic", p)
				if !rec.wrote {
					writeError(rec, r, s.log, errInternal)
				}
			}
			d := time.Since(start)
			s.metrics.observeRequest(route, r.Method, rec.status, d)
			if s.log.Enabled(r.Context(), slog.LevelDebug) {
				s.log.Debug("request", "request_id", id, "method", r.Method, "route", route, "status", rec.status, "duration_ms", d.Milliseconds())
			}
		}()
		if r.ContentLength > maxBody {
			writeError(rec, r, s.log, errTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, maxBody)
		next.ServeHTTP(rec, r)
	})
}

// nameRoute records the matched route's template for the access log and metrics (the outer
// middleware runs before routing and cannot see it).
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(ctxRoute).(*string); ok {
			if rt := mux.CurrentRoute(r); rt != nil {
				if t, err := rt.GetPathTemplate(); err == nil {
					*p = t
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// statusRecorder remembers the status a handler wrote, for the log and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
