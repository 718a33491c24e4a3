package server

import (
	"net/http"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
)

// handleMe is GET /me: the signed-in user.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.accounts.User(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type updateMeRequest struct {
	Username *string `json:"username"`
	Email    *string `json:"email"`
}

// handleUpdateMe is PATCH /me {username?, email?}: the changed user.
func (s *Server) handleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var req updateMeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == nil && req.Email == nil {
		return errBadRequest("invalid_request", "give username and/or email")
	}
	in := account.ProfileInput{Username: req.Username, Email: req.Email}
	u, err := s.accounts.UpdateProfile(r.Context(), principal(r.Context()), in, clientOf(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type deleteMeRequest struct {
	Password *string `json:"password"`
}

// handleDeleteMe is DELETE /me {password}: 204, the account, its sessions and (through sync)
// its app data gone.
func (s *Server) handleDeleteMe(w http.ResponseWriter, r *http.Request) error {
	var req deleteMeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Password == nil {
		return errBadRequest("invalid_request", "password is required")
	}
	if err := s.accounts.DeleteAccount(r.Context(), principal(r.Context()), *req.Password, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type changePasswordRequest struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

// handleChangePassword is POST /password {current_password, new_password}: 204, every other
// session of the user ended.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.CurrentPassword == nil || req.NewPassword == nil {
		return errBadRequest("invalid_request", "current_password and new_password are required")
	}
	in := account.PasswordChange{Current: *req.CurrentPassword, New: *req.NewPassword}
	if err := s.accounts.ChangePassword(r.Context(), principal(r.Context()), in, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
