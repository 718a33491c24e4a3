// Package server is the auth server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// KeySet is the running key set: what the JWKS publishes, and whether a signing key is loaded.
type KeySet interface {
	JWKS() (body []byte, etag string)
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
	Store  *store.Store
	Hasher *password.Hasher
	Issuer *tokens.Issuer
	Keys   KeySet
	// Bearer checks the access tokens of the Bearer endpoints and /revoke: the public
	// verifier on the server's own keys (package bearer).
	Bearer  *verifier.Verifier
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
	bearer     *verifier.Verifier
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time
	syncNotify func()
	handler    http.Handler
}

// New returns the auth server's handler.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, store: d.Store, hasher: d.Hasher, issuer: d.Issuer, keys: d.Keys,
		bearer: d.Bearer, metrics: d.Metrics, log: d.Logger, now: d.Now, syncNotify: d.SyncNotify}
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

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxClaims
	ctxRoute
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}
