// Package server is the auth server's HTTP API: routes.go shows all of it, handle_*.go hold
// the handlers, errors.go maps errors to responses in one place.
package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
	"github.com/jwtauth/jwtauth/internal/httpapi"
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
	// ProductName is the name the hosted pages show (the issuer's host when empty).
	ProductName string
	// TrustedProxies name the client behind a reverse proxy (TRUSTED_PROXIES); nil trusts
	// none, and the client is the TCP peer.
	TrustedProxies *httpapi.TrustedProxies
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
	errs     *httpapi.Errors // the JSON endpoints' answers to errors
	oauth    *httpapi.Errors // the token endpoint's (RFC 6749 §5.2)
	pages    *ui.Pages
	cookies  ui.Cookies
	handler  http.Handler
}

// New returns the auth server's handler.
func New(cfg Config, d Deps) *Server {
	s := &Server{cfg: cfg, accounts: d.Accounts, store: d.Store, keys: d.Keys, metrics: d.Metrics, log: d.Logger,
		errs: httpapi.NewErrors(d.Logger, errorMapper(false)), oauth: httpapi.NewErrors(d.Logger, errorMapper(true)),
		pages: mustPages(cfg), cookies: ui.Cookies{Secure: secureIssuer(cfg.Issuer)}}
	r := mux.NewRouter()
	s.routes(r)
	r.Use(nameRoute)
	s.handler = s.middleware(r)
	return s
}

// mustPages parses the hosted pages' embedded templates: a failure is a bug of the build.
func mustPages(cfg Config) *ui.Pages {
	name := cfg.ProductName
	if name == "" {
		if u, err := url.Parse(cfg.Issuer); err == nil && u.Host != "" {
			name = u.Host
		} else {
			name = "Sign in"
		}
	}
	p, err := ui.New(name)
	if err != nil {
		panic(err)
	}
	return p
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is a handler that returns its error to the one place that answers errors.
type handlerFunc = httpapi.HandlerFunc

// handle answers h's error with the JSON endpoints' statuses.
func (s *Server) handle(h handlerFunc) http.Handler { return s.errs.Handle(h) }

// handleOAuth answers h's error with the token endpoint's statuses (RFC 6749 §5.2).
func (s *Server) handleOAuth(h handlerFunc) http.Handler { return s.oauth.Handle(h) }

type ctxKey int

const ctxPrincipal ctxKey = 0
