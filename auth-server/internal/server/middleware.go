package server

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// request is the middleware's state of one request (httpapi.Request).
type request = httpapi.Request[struct{}]

// middleware wraps every request: request id, panic recovery, body limit, CORS, access log
// and metrics (httpapi.Middleware).
func (s *Server) middleware(next http.Handler) http.Handler {
	return httpapi.Middleware(next, httpapi.Options[struct{}]{
		Logger: s.log,
		Errors: s.errs,
		Before: s.cors,
		// The client address (clientIP) is what the trusted proxies say it is.
		TrustedProxies: s.cfg.TrustedProxies,
		Done: func(rq *request, r *http.Request, d time.Duration) {
			s.metrics.observeRequest(rq.Route, r.Method, rq.Status(), d)
		},
	})
}

// cors answers browser preflights for the configured origins; it reports whether the request
// was a preflight that has been answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !slices.Contains(s.cfg.CORSOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// nameRoute records the matched route's template for the access log and metrics (the outer
// middleware runs before routing and cannot see it).
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rq, ok := httpapi.RequestFrom[struct{}](r.Context()); ok {
			if rt := mux.CurrentRoute(r); rt != nil {
				if t, err := rt.GetPathTemplate(); err == nil {
					rq.Route = t
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// clientIP is the client address of the request: the TCP peer, or behind a trusted proxy
// (TRUSTED_PROXIES) the address its forwarded headers give (httpapi.ClientAddr).
func clientIP(r *http.Request) string {
	return httpapi.ClientAddr(r)
}

func userAgent(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return strings.ReplaceAll(strings.ToValidUTF8(ua, ""), "\x00", "")
}
