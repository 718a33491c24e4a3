package server

import (
	"net/http"
	"time"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// state is this server's part of the middleware's per-request state (httpapi.Request), in
// the same allocation: the matched route's metrics (set by named), the verified claims (set
// by authed) and the path variables (set by dispatch).
type state struct {
	metrics *httpapi.RouteMetrics // the matched route's metrics; nil without metrics
	claims  *verifier.Claims
	vars    map[string]string
}

// request is the middleware's state of one request.
type request = httpapi.Request[state]

// requestOf returns the middleware's state of r; false outside the middleware.
func requestOf(r *http.Request) (*request, bool) { return httpapi.RequestFrom[state](r.Context()) }

// middleware wraps every request: request id, panic recovery, body limit, access log and
// metrics (httpapi.Middleware).
func (s *Server) middleware(next http.Handler) http.Handler {
	other := s.metrics.otherRoute()
	return httpapi.Middleware(next, httpapi.Options[state]{
		Logger: s.log,
		IDs:    s.ids,
		Errors: s.errs,
		Init:   func(rq *request) { rq.Data.metrics = other },
		// The access and panic log lines name the client the trusted proxies forward.
		TrustedProxies: s.proxies,
		Done: func(rq *request, r *http.Request, d time.Duration) {
			rq.Data.metrics.Observe(r.Method, rq.Status(), d)
		},
	})
}

// named records the matched route for the access log and metrics: the outer middleware runs
// before routing and cannot see it. The route's metrics are resolved once, here.
func (s *Server) named(route string, next http.Handler) http.Handler {
	rm := s.metrics.route(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rq, ok := requestOf(r); ok {
			rq.Route, rq.Data.metrics = route, rm
		}
		next.ServeHTTP(w, r)
	})
}
