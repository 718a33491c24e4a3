package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// routes is the whole API on one screen. mux tries the routes in order: the hot ones first.
func (s *Server) routes(r *mux.Router) {
	r.NotFoundHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error { return httpapi.ErrNotFound })
	r.MethodNotAllowedHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error { return httpapi.ErrMethodNotAllowed })
	route := func(path string, h http.Handler, methods ...string) {
		r.Handle(path, s.named(path, h)).Methods(methods...)
	}

	// Bearer access token.
	route("/whoami", s.authed(s.handleWhoami), http.MethodGet)
	// Bearer access token (or, for the seed's clients, the token in a JSON body).
	route("/awesome_app", s.handle(s.handleAwesomeApp), http.MethodGet, http.MethodPost)
	route("/me", s.authed(s.handleMe), http.MethodGet)
	route("/notes", s.authed(scoped(scopeNotesRead, s.handleListNotes)), http.MethodGet)
	route("/notes", s.authed(scoped(scopeNotesWrite, s.handleCreateNote)), http.MethodPost)
	route("/notes/{id}", s.authed(scoped(scopeNotesRead, s.handleGetNote)), http.MethodGet)
	route("/notes/{id}", s.authed(scoped(scopeNotesWrite, s.handleDeleteNote)), http.MethodDelete)

	// The auth server's sync token (typ sync+jwt, aud user-sync); /sync_user is the seed's path.
	sync := s.syncVerify.Middleware(s.handle(s.handleSync))
	route("/sync/users", sync, http.MethodPost)
	route("/sync_user", sync, http.MethodPost, http.MethodPut)

	// Public.
	route("/healthz", httpapi.Healthz(), http.MethodGet, http.MethodHead)
	route("/readyz", s.readyz(), http.MethodGet, http.MethodHead)
	if s.metrics != nil {
		route("/metrics", s.metrics.Handler(), http.MethodGet)
	}
}
