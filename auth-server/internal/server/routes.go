package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
	"github.com/jwtauth/jwtauth/internal/httpapi"
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
	r.Handle("/email/verify", s.handle(s.handleVerifyEmail)).Methods(http.MethodPost)
	r.Handle("/password/forgot", s.handle(s.handleForgotPassword)).Methods(http.MethodPost)
	r.Handle("/password/reset", s.handle(s.handleResetPassword)).Methods(http.MethodPost)
	r.Handle("/.well-known/jwks.json", s.handle(s.handleJWKS)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/.well-known/openid-configuration", s.handle(s.handleMetadata)).Methods(http.MethodGet)
	r.Handle("/.well-known/oauth-authorization-server", s.handle(s.handleMetadata)).Methods(http.MethodGet)
	r.Handle("/healthz", s.handle(s.handleHealthz)).Methods(http.MethodGet)
	r.Handle("/readyz", s.handle(s.handleReadyz)).Methods(http.MethodGet)
	if s.metrics != nil {
		r.Handle("/metrics", s.metrics.Handler()).Methods(http.MethodGet)
	}

	// The authorization code flow, OpenID Connect and the hosted pages (HTML; their errors
	// show on a page).
	r.HandleFunc("/authorize", s.handleAuthorize).Methods(http.MethodGet)
	r.HandleFunc("/logout", s.handleEndSessionEndpoint).Methods(http.MethodGet)
	r.Handle("/userinfo", s.authed(s.handleUserInfo)).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/ui/login", s.handleLoginPage).Methods(http.MethodGet)
	r.HandleFunc("/ui/login", s.handleLoginPost).Methods(http.MethodPost)
	r.HandleFunc("/ui/login/mfa", s.handleLoginMFAPost).Methods(http.MethodPost)
	r.HandleFunc("/ui/forgot", s.handleForgotPage).Methods(http.MethodGet)
	r.HandleFunc("/ui/forgot", s.handleForgotPost).Methods(http.MethodPost)
	r.HandleFunc("/ui/reset", s.handleResetPage).Methods(http.MethodGet)
	r.HandleFunc("/ui/reset", s.handleResetPost).Methods(http.MethodPost)
	r.HandleFunc("/ui/verify", s.handleVerifyPage).Methods(http.MethodGet)
	r.HandleFunc("/ui/verify", s.handleVerifyPost).Methods(http.MethodPost)
	r.HandleFunc("/ui/account", s.handleAccountPage).Methods(http.MethodGet)
	r.HandleFunc("/ui/account/sessions/end", s.accountForm(s.endSessionForm)).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/logout-all", s.accountForm(s.logoutEverywhereForm)).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/password", s.accountForm(s.passwordForm)).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/delete", s.accountForm(s.deleteAccountForm)).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/mfa/enrol", s.handleMFAEnrol).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/mfa/confirm", s.handleMFAConfirm).Methods(http.MethodPost)
	r.HandleFunc("/ui/account/mfa/remove", s.accountForm(s.removeMFAForm)).Methods(http.MethodPost)
	r.HandleFunc("/ui/logout", s.accountForm(s.logoutForm)).Methods(http.MethodPost)
	r.HandleFunc(ui.StylePath, ui.ServeStyle).Methods(http.MethodGet, http.MethodHead)

	// Bearer access token.
	r.Handle("/me", s.authed(s.handleMe)).Methods(http.MethodGet)
	r.Handle("/me", s.authed(s.handleUpdateMe)).Methods(http.MethodPatch)
	r.Handle("/me", s.authed(s.handleDeleteMe)).Methods(http.MethodDelete)
	r.Handle("/sessions", s.authed(s.handleListSessions)).Methods(http.MethodGet)
	r.Handle("/sessions/{id}", s.authed(s.handleEndSession)).Methods(http.MethodDelete)
	r.Handle("/password", s.authed(s.handleChangePassword)).Methods(http.MethodPost)
	r.Handle("/email/verify/resend", s.authed(s.handleResendVerification)).Methods(http.MethodPost)
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
