package server

import (
	"errors"
	"net/http"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.currentUser(r)
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

// handleUpdateMe changes the username and/or email; the sync event is written with it.
func (s *Server) handleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var req updateMeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == nil && req.Email == nil {
		return errBadRequest("invalid_request", "give username and/or email")
	}
	var username, email string
	var err error
	if req.Username != nil {
		if username, err = normalizeUsername(*req.Username); err != nil {
			return err
		}
	}
	if req.Email != nil {
		if email, err = normalizeEmail(*req.Email); err != nil {
			return err
		}
	}
	c := claimsFrom(r.Context())
	u, err := s.store.UpdateUser(r.Context(), c.UserID, s.now().UTC(), s.cfg.SyncTargets, func(u *store.User) error {
		if username != "" {
			u.Username = username
		}
		if email != "" {
			u.Email = email
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrUserExists):
		return errUserExists
	case errors.Is(err, store.ErrNotFound):
		return errUnauthorized
	case err != nil:
		return err
	}
	s.signalSync()
	_ = s.store.Audit(r.Context(), store.AuditEvent{At: s.now(), Event: store.AuditUserUpdated, UserID: u.ID, SessionID: c.SessionID, IP: clientIP(r)})
	encode(w, http.StatusOK, toUserJSON(u))
	return nil
}

type deleteMeRequest struct {
	Password *string `json:"password"`
}

// handleDeleteMe deletes the account after checking its password; its sessions go with it
// and the deletion reaches the sync targets through the outbox.
func (s *Server) handleDeleteMe(w http.ResponseWriter, r *http.Request) error {
	var req deleteMeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Password == nil {
		return errBadRequest("invalid_request", "password is required")
	}
	u, err := s.currentUser(r)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(r.Context(), *req.Password, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return errWrongPassword
	}
	if err := s.store.DeleteUser(r.Context(), u.ID, s.now().UTC(), s.cfg.SyncTargets); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.signalSync()
	_ = s.store.Audit(r.Context(), store.AuditEvent{At: s.now(), Event: store.AuditUserDeleted, UserID: u.ID, IP: clientIP(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errWrongPassword = &apiError{Status: http.StatusForbidden, Code: "invalid_password", Description: "the password is wrong"}

// signalSync wakes the sync relay after a change was committed (it also polls).
func (s *Server) signalSync() {
	if s.syncNotify != nil {
		s.syncNotify()
	}
}
