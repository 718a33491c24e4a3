package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// handleHealthz answers 200 while the process serves (httpapi.Healthz).
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	httpapi.Healthz().ServeHTTP(w, r)
	return nil
}

// handleReadyz answers 200 when the database answers and a signing key is loaded, else 503
// (httpapi.Readyz).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	httpapi.Readyz(
		httpapi.Check{Name: "database", Probe: s.store.Ping},
		httpapi.Check{Name: "signing_key", Down: "missing", Probe: func(context.Context) error {
			if !s.keys.Ready() {
				return errNoSigningKey
			}
			return nil
		}},
	).ServeHTTP(w, r)
	return nil
}

var errNoSigningKey = errors.New("no signing key loaded")
