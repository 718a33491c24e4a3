package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// authed wraps h so that it runs only for a valid Bearer access token of a live session; the
// claims are in the request context (claimsFrom). The token is checked by the public
// verifier, exactly as a resource server checks it (s.bearer).
func (s *Server) authed(h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := bearer(r)
		if !ok {
			return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "missing bearer token"}
		}
		c, err := s.bearer.Verify(r.Context(), raw)
		if err != nil {
			s.log.DebugContext(r.Context(), "token rejected", "reason", verifier.Description(err))
			return errUnauthorized
		}
		// The auth server's own endpoints also refuse tokens of ended sessions, so that a
		// logout or a password change takes effect here at once.
		live, err := s.store.SessionLive(r.Context(), c.SessionID, s.now())
		if err != nil {
			return err
		}
		if !live {
			return errUnauthorized
		}
		bc := bearerClaims{UserID: c.Subject, SessionID: c.SessionID, Token: c}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxClaims, bc)))
	})
}

// bearerClaims are the verified access token of a request, as the handlers read it.
type bearerClaims struct {
	UserID    string           // sub
	SessionID string           // sid
	Token     *verifier.Claims // every claim (roles, scope, amr …)
}

// claimsFrom returns the claims authed stored in ctx (zero outside authed).
func claimsFrom(ctx context.Context) bearerClaims {
	c, _ := ctx.Value(ctxClaims).(bearerClaims)
	return c
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// currentUser loads the user the token speaks for; a deleted user is 401.
func (s *Server) currentUser(r *http.Request) (store.User, error) {
	u, err := s.store.UserByID(r.Context(), claimsFrom(r.Context()).UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errUnauthorized
	}
	return u, err
}
