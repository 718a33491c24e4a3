package server

import (
	"net/http"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// handleWhoami answers the verified claims of the presented token. It touches no database:
// it is the cheapest protected request.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) error {
	// A signed time past year 9999 fails to encode (as with encoding/json, which this
	// replaces): the answer stays a 200, with an empty body, never a 5xx for token content.
	c := claims(r)
	body, _ := appendClaims(make([]byte, 0, claimsSize(c)), c)
	writeJSON(w, http.StatusOK, body)
	return nil
}

// handleMe answers the app's record of the user, creating it from the token's claims (at
// version 0) when sync has not delivered it yet. A user deleted by sync is 404: its tombstone
// is never recreated from a still-valid token. A client's own token (client_credentials) has
// no user: 404.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	if claims(r).IsClientToken() {
		return httpapi.ErrNotFound // a client's own token speaks for no user: none is made up for it
	}
	u, err := s.store.EnsureUser(r.Context(), identity(claims(r)))
	if err != nil {
		return err
	}
	httpapi.Encode(w, http.StatusOK, u)
	return nil
}
