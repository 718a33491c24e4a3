package server

import (
	"github.com/jwtauth/jwtauth/internal/httpapi"
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the whole API on one screen.
func (s *Server) routes(r *mux.Router) {
	r.NotFoundHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error { return httpapi.ErrNotFound })
	r.MethodNotAllowedHandler = s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return httpapi.ErrMethodNotAllowed
	})

	// Public.
	r.Handle("/signup", s.handle(s.handleSignup)).Methods(http.MethodPost)
	r.Handle("/login", s.handle(s.handleLogin)).Methods(http.MethodPost)
	r.Handle("/login/mfa", s.handle(s.handleLoginMFA)).Methods(http.MethodPost)
	r.Handle("/token", s.handleOAuth(s.handleToken)).Methods(http.MethodPost)
	r.Handle("/refresh", s.handle(s.handleRefresh)).Methods(http.MethodPost)
	r.Handle("/logout", s.handle(s.handleLogout)).Methods(http.MethodPost)
	r.Handle("/revoke", s.handleOAuth(s.handleRevoke)).Methods(http.MethodPost)
	r.Handle("/.well-known/jwks.json", s.handle(s.handleJWKS)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/.well-known/openid-configuration", s.handle(s.handleMetadata)).Methods(http.MethodGet)
	r.Handle("/.well-known/oauth-authorization-server", s.handle(s.handleMetadata)).Methods(http.MethodGet)
	r.Handle("/healthz", s.handle(s.handleHealthz)).Methods(http.MethodGet)
	r.Handle("/readyz", s.handle(s.handleReadyz)).Methods(http.MethodGet)
	if s.metrics != nil {
		r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
	}

	// Bearer access token.
	r.Handle("/me", s.authed(s.handleMe)).Methods(http.MethodGet)
	r.Handle("/me", s.authed(s.handleUpdateMe)).Methods(http.MethodPatch)
	r.Handle("/me", s.authed(s.handleDeleteMe)).Methods(http.MethodDelete)
	r.Handle("/sessions", s.authed(s.handleListSessions)).Methods(http.MethodGet)
	r.Handle("/sessions/{id}", s.authed(s.handleEndSession)).Methods(http.MethodDelete)
	r.Handle("/password", s.authed(s.handleChangePassword)).Methods(http.MethodPost)
	r.Handle("/mfa/totp", s.authed(s.handleMFAStatus)).Methods(http.MethodGet)
	r.Handle("/mfa/totp", s.authed(s.handleEnrolTOTP)).Methods(http.MethodPost)
	r.Handle("/mfa/totp", s.authed(s.handleRemoveTOTP)).Methods(http.MethodDelete)
	r.Handle("/mfa/totp/confirm", s.authed(s.handleConfirmTOTP)).Methods(http.MethodPost)

	// Bearer access token with role admin and scope admin.
	r.Handle("/admin/users", s.adminOnly(s.handleAdminUsers)).Methods(http.MethodGet)
	r.Handle("/admin/users/{id}", s.adminOnly(s.handleAdminUser)).Methods(http.MethodGet)
	r.Handle("/admin/users/{id}", s.adminOnly(s.handleAdminPatchUser)).Methods(http.MethodPatch)
	r.Handle("/admin/users/{id}", s.adminOnly(s.handleAdminDeleteUser)).Methods(http.MethodDelete)
	r.Handle("/admin/users/{id}/logout", s.adminOnly(s.handleAdminLogout)).Methods(http.MethodPost)
	r.Handle("/admin/users/{id}/mfa", s.adminOnly(s.handleAdminResetMFA)).Methods(http.MethodDelete)
	r.Handle("/admin/audit", s.adminOnly(s.handleAdminAudit)).Methods(http.MethodGet)
}
