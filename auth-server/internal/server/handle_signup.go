package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

type userJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type signupRequest struct {
	Username *string `json:"username"`
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

type signupResponse struct {
	User userJSON `json:"user"`
	tokenResponse
}

// handleSignup creates a user (and its sync event, in the same transaction) and logs it in.
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) error {
	var req signupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == nil || req.Email == nil || req.Password == nil {
		return errBadRequest("invalid_request", "username, email and password are required")
	}
	username, err := normalizeUsername(*req.Username)
	if err != nil {
		return err
	}
	email, err := normalizeEmail(*req.Email)
	if err != nil {
		return err
	}
	if err := checkPassword(*req.Password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(r.Context(), *req.Password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	u := store.User{ID: uuid.NewString(), Username: username, Email: email, PasswordHash: hash,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(r.Context(), u, s.cfg.SyncTargets); err != nil {
		if errors.Is(err, store.ErrUserExists) {
			return errUserExists
		}
		return err
	}
	s.signalSync()
	tr, err := s.startSession(r, u, store.AuditSignup)
	if err != nil {
		return err
	}
	noStore(w)
	encode(w, http.StatusCreated, signupResponse{User: toUserJSON(u), tokenResponse: tr})
	return nil
}
