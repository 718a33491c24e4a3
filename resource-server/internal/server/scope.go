package server

import (
	"net/http"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// The scopes of the notes endpoints (CONTRACT.md §9).
const (
	scopeNotesRead  = "notes:read"
	scopeNotesWrite = "notes:write"
)

// scoped runs h only for a token that carries scope; any other gets 403 insufficient_scope
// with the RFC 6750 §3.1 challenge naming it. It goes inside authed.
func scoped(scope string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !claims(r).HasScope(scope) {
			verifier.WriteInsufficientScope(w, scope)
			return nil
		}
		return h(w, r)
	}
}
