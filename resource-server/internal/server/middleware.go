package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

// request is what the middleware shares with the routed handler, in one allocation: the
// status recorder, the request id, the matched route (set by named) and the verified claims
// (set by authed).
type request struct {
	statusRecorder
	id      string
	route   string        // the matched route's template, routeOther when none matched
	metrics *routeMetrics // the matched route's metrics; nil without metrics
	claims  *verifier.Claims
	vars    map[string]string // the matched route's path variables (set by dispatch)
}

// middleware wraps every request: request id, panic recovery, body limit, access log and
// metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rq := &request{statusRecorder: statusRecorder{ResponseWriter: w, status: http.StatusOK},
			route: routeOther, metrics: s.metrics.otherRoute()}
		rq.id = r.Header.Get("X-Request-Id")
		if rq.id == "" || len(rq.id) > 64 {
			rq.id = s.ids.next()
		}
		w.Header()["X-Request-Id"] = []string{rq.id}
		r = r.WithContext(context.WithValue(r.Context(), ctxRequest, rq))
		defer s.finish(rq, r, start)
		if r.ContentLength > maxBody {
			writeError(rq, r, s.log, errTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(rq, r.Body, maxBody)
		}
		next.ServeHTTP(rq, r)
	})
}

// finish runs after every request (deferred): it answers a panic with a 500, then counts the
// request and writes the access log line.
func (s *Server) finish(rq *request, r *http.Request, start time.Time) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		s.log.Error("panic", "request_id", rq.id, "path", r.URL.Path, "panic", p)
		if !rq.wrote {
			writeError(rq, r, s.log, errInternal)
		}
	}
	d := time.Since(start)
	rq.metrics.observe(r.Method, rq.status, d)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("request", "request_id", rq.id, "method", r.Method, "route", rq.route, "status", rq.status, "duration_ms", d.Milliseconds())
	}
}

// named records the matched route for the access log and metrics: the outer middleware runs
// before routing and cannot see it. The route's metrics are resolved once, here.
func (s *Server) named(route string, next http.Handler) http.Handler {
	rm := s.metrics.route(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rq, ok := r.Context().Value(ctxRequest).(*request); ok {
			rq.route, rq.metrics = route, rm
		}
		next.ServeHTTP(w, r)
	})
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
