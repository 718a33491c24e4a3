// Package server is the auth server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
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
	CORSOrigins []string
}

// Deps are the server's collaborators.
type Deps struct {
	Accounts *account.Service
	Store    *store.Store // for the readiness check
	Keys     KeySet
	Metrics  *Metrics
	Logger   *slog.Logger
}

// Server serves the auth API.
type Server struct {
	cfg      Config
	accounts *account.Service
	store    *store.Store
	keys     KeySet
	metrics  *Metrics
	log      *slog.Logger
	handler  http.Handler
}

// New returns the auth server's handler.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, accounts: d.Accounts, store: d.Store, keys: d.Keys, metrics: d.Metrics, log: d.Logger}
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

// handle answers h's error with the JSON endpoints' statuses.
func (s *Server) handle(h handlerFunc) http.Handler { return s.answer(h, false) }

// handleOAuth answers h's error with the token endpoint's statuses (RFC 6749 §5.2).
func (s *Server) handleOAuth(h handlerFunc) http.Handler { return s.answer(h, true) }

func (s *Server) answer(h handlerFunc, atToken bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.log, err, atToken)
		}
	})
}

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxPrincipal
	ctxRoute
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}
