// Package server is the auth server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// KeySet is the running key set: what the JWKS publishes, and the public keys that check the
// server's own access tokens.
type KeySet interface {
	JWKS() (body []byte, etag string)
	VerificationKey(kid string) (jose.JSONWebKey, bool)
	Ready() bool
}

// Config is the part of the configuration the HTTP layer needs.
type Config struct {
	Issuer      string
	Algorithm   string
	JWKSMaxAge  time.Duration
	SyncTargets []string
	CORSOrigins []string
	Throttle    throttle.Policy
	Refresh     refresh.Policy
}

// Deps are the server's collaborators.
type Deps struct {
	Store   *store.Store
	Hasher  *password.Hasher
	Issuer  *tokens.Issuer
	Keys    KeySet
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// SyncNotify, when set, is called after a committed user change to wake the sync relay.
	SyncNotify func()
}

// Server serves the auth API.
type Server struct {
	cfg        Config
	store      *store.Store
	hasher     *password.Hasher
	issuer     *tokens.Issuer
	keys       KeySet
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time
	syncNotify func()
	handler    http.Handler
}

// New returns the auth server's handler.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, store: d.Store, hasher: d.Hasher, issuer: d.Issuer, keys: d.Keys,
		metrics: d.Metrics, log: d.Logger, now: d.Now, syncNotify: d.SyncNotify}
	r := mux.NewRouter()
	s.routes(r)
	r.Use(nameRoute)
	s.handler = s.middleware(r)
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is a handler that returns its error to the one place that answers errors.
type handlerFunc = httpapi.HandlerFunc

// handle adapts h to an http.Handler whose errors writeError answers.
func (s *Server) handle(h handlerFunc) http.Handler {
	return httpapi.Handle(h, func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, s.log, err) })
}

type ctxKey int

const ctxClaims ctxKey = 0

// requestID is the id the middleware gave the request ("" outside it).
func requestID(ctx context.Context) string { return httpapi.RequestID(ctx) }
