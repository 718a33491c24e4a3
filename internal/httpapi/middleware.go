package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// RouteOther is the route of a request that matched no route (404, 405), until a router
// names it.
const RouteOther = "other"

// Request is what the middleware shares with the handlers of one request, in one allocation:
// the status recorder (the ResponseWriter handed down), the request id, the matched route,
// and the server's own per-request state Data, so a server adds none of its own.
type Request[T any] struct {
	StatusRecorder
	// ID is the request id: the client's X-Request-Id when it sent one of at most 64
	// bytes, else a fresh one; it is echoed in the response's X-Request-Id.
	ID string
	// Route is the matched route's template for the access log and metrics, set by the
	// server's router; RouteOther until then.
	Route string
	// Data is the server's per-request state.
	Data T
	// trusted are the Middleware's TrustedProxies, for ClientAddr.
	trusted *TrustedProxies
}

func (rq *Request[T]) requestID() string { return rq.ID }

func (rq *Request[T]) proxies() *TrustedProxies { return rq.trusted }

// ctxKey is the context key of the middleware's *Request.
type ctxKey struct{}

// RequestFrom returns the middleware's state of the request whose context is ctx; false
// outside the middleware (or for another T).
func RequestFrom[T any](ctx context.Context) (*Request[T], bool) {
	rq, ok := ctx.Value(ctxKey{}).(*Request[T])
	return rq, ok
}

// RequestID is the id the middleware gave the request whose context is ctx ("" outside it).
func RequestID(ctx context.Context) string {
	if rq, ok := ctx.Value(ctxKey{}).(interface{ requestID() string }); ok {
		return rq.requestID()
	}
	return ""
}

// Options configure Middleware. Every field may be left zero.
type Options[T any] struct {
	// Logger gets the panics and, at debug level, one access line per request.
	Logger *slog.Logger
	// IDs makes request ids; a fresh generator when nil.
	IDs *IDGenerator
	// Errors answers a body over MaxBody and a panic; NewErrors(Logger) when nil.
	Errors *Errors
	// Init prepares a new request's state before anything else runs.
	Init func(rq *Request[T])
	// Before runs after the body limit, before the handler; it returns true when it has
	// answered the request itself (a CORS preflight, say).
	Before func(w http.ResponseWriter, r *http.Request) bool
	// TrustedProxies are the reverse proxies whose forwarded headers ClientAddr and the log
	// lines believe (TRUSTED_PROXIES); nil trusts none.
	TrustedProxies *TrustedProxies
	// Done runs after every request, the panicking ones included, with its duration (for
	// metrics); the status is rq.Status().
	Done func(rq *Request[T], r *http.Request, d time.Duration)
}

// middleware is the state of Middleware.
type middleware[T any] struct {
	Options[T]
	next http.Handler
}

// Middleware wraps next with what every request gets: a request id, panic recovery (a 500
// JSON without details; http.ErrAbortHandler is re-panicked so net/http aborts the
// response), the body limit (MaxBody, 413), a status recorder, the Done hook and an access
// log line at debug level. It allocates one Request[T] a request.
func Middleware[T any](next http.Handler, o Options[T]) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IDs == nil {
		o.IDs = NewIDGenerator()
	}
	if o.Errors == nil {
		o.Errors = NewErrors(o.Logger)
	}
	return &middleware[T]{Options: o, next: next}
}

// ServeHTTP serves one request through the middleware.
func (m *middleware[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rq := &Request[T]{StatusRecorder: StatusRecorder{ResponseWriter: w, status: http.StatusOK}, Route: RouteOther, trusted: m.TrustedProxies}
	if m.Init != nil {
		m.Init(rq)
	}
	rq.ID = r.Header.Get("X-Request-Id")
	if rq.ID == "" || len(rq.ID) > 64 {
		rq.ID = m.IDs.Next()
	}
	w.Header()["X-Request-Id"] = []string{rq.ID}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rq))
	defer m.finish(rq, r, start)
	if r.ContentLength > MaxBody {
		m.Errors.Write(rq, r, ErrTooLarge)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(rq, r.Body, MaxBody)
	}
	if m.Before != nil && m.Before(rq, r) {
		return
	}
	m.next.ServeHTTP(rq, r)
}

// finish runs after every request (deferred): it answers a panic with a 500, then calls Done
// and writes the access log line.
func (m *middleware[T]) finish(rq *Request[T], r *http.Request, start time.Time) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		m.Logger.Error("panic", "request_id", rq.ID, "path", r.URL.Path, "client_ip", m.TrustedProxies.ClientAddr(r), "panic", p, "stack", string(debug.Stack()))
		if !rq.wrote {
			m.Errors.Write(rq, r, ErrInternal)
		}
	}
	d := time.Since(start)
	if m.Done != nil {
		m.Done(rq, r, d)
	}
	if m.Logger.Enabled(r.Context(), slog.LevelDebug) {
		m.Logger.Debug("request", "request_id", rq.ID, "method", r.Method, "route", rq.Route, "status", rq.status, "duration_ms", d.Milliseconds(), "client_ip", m.TrustedProxies.ClientAddr(r))
	}
}

// StatusRecorder is a ResponseWriter that remembers the status a handler wrote.
type StatusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// NewStatusRecorder wraps w; its status is 200 until a handler writes another.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, status: http.StatusOK}
}

// Status is the status written, 200 when none was.
func (r *StatusRecorder) Status() int { return r.status }

// Written reports whether the header or any of the body has been written.
func (r *StatusRecorder) Written() bool { return r.wrote }

// WriteHeader records the first status and passes it on.
func (r *StatusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records that the response has started and passes b on.
func (r *StatusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
