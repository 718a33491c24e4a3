package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
)

// authed wraps h so that it runs only for a valid Bearer access token of a live session; its
// principal is in the request context (principal).
func (s *Server) authed(h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := bearer(r)
		if !ok {
			return errMissingToken
		}
		p, err := s.accounts.Authenticate(r.Context(), raw)
		if err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal, p)))
	})
}

// principal is who the request's access token speaks for (set by authed).
func principal(ctx context.Context) account.Principal {
	p, _ := ctx.Value(ctxPrincipal).(account.Principal)
	return p
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}
