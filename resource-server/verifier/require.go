package verifier

import (
	"encoding/json"
	"net/http"
	"strings"
)

// RequireScope returns middleware that lets a request through only when the claims that
// Middleware stored carry every one of scopes; otherwise it answers 403 with
// `WWW-Authenticate: Bearer error="insufficient_scope", scope="<the scopes>"` and
// {"error":"insufficient_scope"} (RFC 6750 §3.1). Put it inside Middleware: without claims
// (Middleware not run) it answers 401 like a missing token.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				writeUnauthorized(w, ErrMissingToken)
				return
			}
			for _, s := range scopes {
				if !c.HasScope(s) {
					WriteInsufficientScope(w, scopes...)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireRole returns middleware that lets a request through only when the claims that
// Middleware stored carry at least one of roles; otherwise it answers 403
// {"error":"forbidden"}. Put it inside Middleware.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				writeUnauthorized(w, ErrMissingToken)
				return
			}
			for _, role := range roles {
				if c.HasRole(role) {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeError(w, http.StatusForbidden, "forbidden", "this needs the role "+strings.Join(roles, " or "))
		})
	}
}

// WriteInsufficientScope answers 403 insufficient_scope naming the scopes a request needs,
// with the RFC 6750 §3.1 challenge. Scopes are RFC 6749 scope tokens (no quotes or
// backslashes), so the challenge needs no escaping.
func WriteInsufficientScope(w http.ResponseWriter, scopes ...string) {
	need := strings.Join(scopes, " ")
	w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+need+`"`)
	writeError(w, http.StatusForbidden, "insufficient_scope", "the access token lacks the scope "+need)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// RequireAMR returns middleware that lets a request through only when the claims that
// Middleware stored carry every one of methods in amr (RFC 8176), e.g. RequireAMR("otp") for
// a route that needs a log-in with a second factor. Otherwise it answers 401 with
// `WWW-Authenticate: Bearer error="insufficient_user_authentication"` and the same error in
// the body (RFC 9470), so the client knows to log in again with the factor. Put it inside
// Middleware: without claims it answers 401 like a missing token.
func RequireAMR(methods ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				writeUnauthorized(w, ErrMissingToken)
				return
			}
			for _, m := range methods {
				if !c.HasAMR(m) {
					desc := "this needs a log-in with " + strings.Join(methods, " and ")
					w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", error_description="`+desc+`"`)
					writeError(w, http.StatusUnauthorized, "insufficient_user_authentication", desc)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
