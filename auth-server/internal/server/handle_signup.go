package server

import (
	"net/http"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// userJSON is a user as the API shows it; sub is its id, as in its tokens (OpenID Connect's
// UserInfo names it so), and id the same for the Python system's clients.
type userJSON struct {
	Sub           string    `json:"sub"`
	ID            string    `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{Sub: u.ID, ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
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

// handleSignup is POST /signup {username, email, password} → 201 with the user and its tokens.
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) error {
	var req signupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == nil || req.Email == nil || req.Password == nil {
		return errBadRequest("invalid_request", "username, email and password are required")
	}
	in := account.SignupInput{Username: *req.Username, Email: *req.Email, Password: *req.Password}
	u, t, err := s.accounts.Signup(r.Context(), in, clientOf(r))
	if err != nil {
		return err
	}
	writeTokens(w, http.StatusCreated, signupResponse{User: toUserJSON(u), tokenResponse: toTokenResponse(t)})
	return nil
}
