// Package server is the resource server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place. Tokens are verified offline
// by the public verifier package; user data lives in the app database (appstore).
package server

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Deps are the server's collaborators. Metrics may be nil (no metrics).
type Deps struct {
	Store    *appstore.Store
	Verifier *verifier.Verifier
	Metrics  *Metrics
	Logger   *slog.Logger
}

// Server serves the resource API.
type Server struct {
	store      *appstore.Store
	verifier   *verifier.Verifier // access tokens (typ at+jwt)
	syncVerify *verifier.Verifier // the auth server's sync calls (typ sync+jwt, aud user-sync)
	metrics    *Metrics
	log        *slog.Logger
	handler    http.Handler
}

// New returns the resource server's handler.
func New(d Deps) *Server {
	s := &Server{store: d.Store, verifier: d.Verifier, metrics: d.Metrics, log: d.Logger,
		syncVerify: d.Verifier.WithExpectations(syncevent.TokenType, syncevent.Audience)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	r := mux.NewRouter()
	s.routes(r)
	r.Use(nameRoute)
	s.handler = s.middleware(r)
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is a handler that returns its error to the one place that answers errors.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// authed runs h only for a valid Bearer access token; the verifier's middleware answers 401
// otherwise, and h finds the claims with verifier.ClaimsFrom.
func (s *Server) authed(h handlerFunc) http.Handler {
	return s.verifier.Middleware(s.handle(h))
}

// claims returns the verified claims the verifier's middleware put in the request context.
func claims(r *http.Request) *verifier.Claims {
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

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxRoute
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}
