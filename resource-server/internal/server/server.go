// Package server is the resource server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place. Tokens are verified offline
// by the public verifier package; user data lives in the app database (appstore).
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/internal/denylist"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Deps are the server's collaborators. Metrics may be nil (no metrics).
type Deps struct {
	Store    *appstore.Store
	Verifier *verifier.Verifier
	// DenyList receives the revocations of sync batches; the Verifier should check it
	// (verifier.Config.Revocations). nil: revocations are stored but not remembered.
	DenyList *denylist.List
	Metrics  *Metrics
	Logger   *slog.Logger
	// TrustedProxies name the client behind a reverse proxy in the log lines
	// (TRUSTED_PROXIES); nil trusts none.
	TrustedProxies *httpapi.TrustedProxies
}

// Server serves the resource API.
type Server struct {
	store      *appstore.Store
	verifier   *verifier.Verifier // access tokens (typ at+jwt)
	syncVerify *verifier.Verifier // the auth server's sync calls (typ sync+jwt, aud user-sync)
	deny       *denylist.List
	metrics    *Metrics
	log        *slog.Logger
	ids        *httpapi.IDGenerator
	proxies    *httpapi.TrustedProxies
	errs       *httpapi.Errors
	router     *mux.Router
	handler    http.Handler
}

// New returns the resource server's handler.
func New(d Deps) *Server {
	s := &Server{store: d.Store, verifier: d.Verifier, deny: d.DenyList, metrics: d.Metrics, log: d.Logger,
		syncVerify: d.Verifier.WithExpectations(syncevent.TokenType, syncevent.Audience), ids: httpapi.NewIDGenerator()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.proxies = d.TrustedProxies
	s.errs = httpapi.NewErrors(s.log, errorTable(), invalidEvent)
	s.router = mux.NewRouter()
	s.routes(s.router)
	s.handler = s.middleware(http.HandlerFunc(s.dispatch))
	return s
}

// dispatch routes a request with mux. A clean path that matches a route goes straight to its
// handler, with the path variables in the request state (see pathVar): mux's ServeHTTP would
// copy the request twice to put the match in the context. Everything else (a path to clean
// and redirect, 404, 405) is mux's ServeHTTP's to answer.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	var m mux.RouteMatch
	if p := r.URL.Path; p != "" && p[0] == '/' && path.Clean(p) == p && s.router.Match(r, &m) && m.MatchErr == nil {
		if rq, ok := requestOf(r); ok {
			rq.Data.vars = m.Vars
		}
		m.Handler.ServeHTTP(w, r)
		return
	}
	s.router.ServeHTTP(w, r)
}

// pathVar returns the path variable name of the matched route ("" when there is none).
func pathVar(r *http.Request, name string) string {
	if rq, ok := requestOf(r); ok && rq.Data.vars != nil {
		return rq.Data.vars[name]
	}
	return mux.Vars(r)[name]
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is a handler that returns its error to the one place that answers errors.
type handlerFunc = httpapi.HandlerFunc

// handle adapts h to an http.Handler whose errors the server's error writer answers.
func (s *Server) handle(h handlerFunc) http.Handler { return s.errs.Handle(h) }

// authed runs h only for a valid Bearer access token and answers 401 otherwise, shaped as the
// verifier's Middleware shapes it (errUnauthorized). It verifies in line rather than through
// that middleware, which would copy the request to carry the claims in its context: they ride
// in the middleware's request state instead, where claims finds them.
func (s *Server) authed(h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		rq, ok := requestOf(r)
		if !ok {
			return httpapi.ErrInternal // only reachable if the middleware were not installed: fail closed
		}
		token, ok := verifier.BearerToken(r)
		if !ok {
			return errUnauthorized(verifier.ErrMissingToken)
		}
		c, err := s.verifier.Verify(r.Context(), token)
		if err != nil {
			s.log.DebugContext(r.Context(), "token rejected", "request_id", rq.ID, "reason", verifier.Description(err))
			return errUnauthorized(err)
		}
		rq.Data.claims = c
		return h(w, r)
	})
}

// claims returns the verified claims of the request: those authed verified, or those a
// verifier's Middleware put in the context (the sync routes).
func claims(r *http.Request) *verifier.Claims {
	if rq, ok := requestOf(r); ok && rq.Data.claims != nil {
		return rq.Data.claims
	}
	c, ok := verifier.ClaimsFrom(r.Context())
	if !ok {
		// Only reachable if a route were registered without authed: fail closed.
		return &verifier.Claims{}
	}
	return c
}

// identity is who the verified token speaks for.
func identity(c *verifier.Claims) appstore.Identity {
	return appstore.Identity{ID: c.Subject, Username: c.PreferredUsername, Email: c.Email}
}

// requestID is the id the middleware gave the request ("" outside it).
func requestID(ctx context.Context) string { return httpapi.RequestID(ctx) }

// readyz answers 200 when the database answers and the verifier has its keys (always so in
// HS256 mode), else 503.
func (s *Server) readyz() http.Handler {
	return httpapi.Readyz(
		httpapi.Check{Name: "database", Probe: s.store.Ping},
		httpapi.Check{Name: "keys", Down: "not loaded", Probe: func(context.Context) error {
			if !s.verifier.Ready() {
				return errKeysNotLoaded
			}
			return nil
		}},
	)
}

var errKeysNotLoaded = errors.New("verification keys not loaded")
