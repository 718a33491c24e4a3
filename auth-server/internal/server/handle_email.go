package server

import (
	"net/http"
)

type tokenRequest struct {
	Token *string `json:"token"`
}

// handleVerifyEmail is POST /email/verify {token}: 204, the address the token was sent to
// verified.
func (s *Server) handleVerifyEmail(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Token == nil {
		return errBadRequest("invalid_request", "token is required")
	}
	if _, err := s.accounts.VerifyEmail(r.Context(), *req.Token, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleResendVerification is POST /email/verify/resend (Bearer): 202, a new verification mail
// queued (none when the address is verified already).
func (s *Server) handleResendVerification(w http.ResponseWriter, r *http.Request) error {
	if err := s.accounts.ResendVerification(r.Context(), principal(r.Context()), clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

type forgotRequest struct {
	Email *string `json:"email"`
}

// handleForgotPassword is POST /password/forgot {email}: 202 whether or not the address is
// known, after the same work (the reset mail, if any, is decided and sent later).
func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) error {
	var req forgotRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Email == nil {
		return errBadRequest("invalid_request", "email is required")
	}
	if err := s.accounts.ForgotPassword(r.Context(), *req.Email, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

type resetRequest struct {
	Token       *string `json:"token"`
	NewPassword *string `json:"new_password"`
}

// handleResetPassword is POST /password/reset {token, new_password}: 204, the password set,
// every session ended, the address verified.
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Token == nil || req.NewPassword == nil {
		return errBadRequest("invalid_request", "token and new_password are required")
	}
	if err := s.accounts.ResetPassword(r.Context(), *req.Token, *req.NewPassword, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
