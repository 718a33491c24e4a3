package server

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the whole API on one screen.
func (s *Server) routes(r *mux.Router) {
	r.NotFoundHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error { return errNotFound })
	r.MethodNotAllowedHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error { return errMethodNotAllowed })

	// Public.
	r.Handle("/healthz", s.handle(s.handleHealthz)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", s.handle(s.handleReadyz)).Methods(http.MethodGet, http.MethodHead)
	if s.metrics != nil {
		r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
	}

	// Bearer access token (or, for the seed's clients, the token in a JSON body).
	r.Handle("/awesome_app", s.handle(s.handleAwesomeApp)).Methods(http.MethodGet, http.MethodPost)

	// Bearer access token.
	r.Handle("/whoami", s.authed(s.handleWhoami)).Methods(http.MethodGet)
	r.Handle("/me", s.authed(s.handleMe)).Methods(http.MethodGet)
	r.Handle("/notes", s.authed(s.handleListNotes)).Methods(http.MethodGet)
	r.Handle("/notes", s.authed(s.handleCreateNote)).Methods(http.MethodPost)
	r.Handle("/notes/{id}", s.authed(s.handleGetNote)).Methods(http.MethodGet)
	r.Handle("/notes/{id}", s.authed(s.handleDeleteNote)).Methods(http.MethodDelete)

	// The auth server's sync token (typ sync+jwt, aud user-sync); /sync_user is the seed's path.
	sync := s.syncVerify.Middleware(s.handle(s.handleSync))
	r.Handle("/sync/users", sync).Methods(http.MethodPost)
	r.Handle("/sync_user", sync).Methods(http.MethodPost, http.MethodPut)
}
