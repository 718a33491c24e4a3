package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// adminOnly wraps h so that it runs only for an access token with role admin and scope admin.
func (s *Server) adminOnly(h handlerFunc) http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request) error {
		if err := account.RequireAdmin(principal(r.Context())); err != nil {
			return err
		}
		return h(w, r)
	})
}

// actor is the signed-in admin, as the audit trail records it.
func actor(r *http.Request) account.Actor {
	return account.AdminUser(principal(r.Context()), clientOf(r))
}

type adminUserJSON struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Roles         []string   `json:"roles"`
	Disabled      bool       `json:"disabled"`
	MFA           bool       `json:"mfa"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastLoginAt   *time.Time `json:"last_login_at"`
}

func toAdminUser(u store.User) adminUserJSON {
	out := adminUserJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Roles: u.Roles, Disabled: u.Disabled(),
		MFA: u.MFA, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if !u.LastLoginAt.IsZero() {
		out.LastLoginAt = &u.LastLoginAt
	}
	return out
}

// pageLimit reads the limit parameter; absent is 0 (the default page size).
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, account.ErrInvalidLimit
	}
	return n, nil
}

// handleAdminUsers is GET /admin/users?q=&limit=&cursor=: a page of users by username.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.accounts.FindUsers(r.Context(), account.UserSearch{Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	out := struct {
		Users      []adminUserJSON `json:"users"`
		NextCursor string          `json:"next_cursor,omitempty"`
	}{Users: make([]adminUserJSON, len(page.Users)), NextCursor: page.NextCursor}
	for i, u := range page.Users {
		out.Users[i] = toAdminUser(u)
	}
	encode(w, http.StatusOK, out)
	return nil
}

// handleAdminUser is GET /admin/users/{id}.
func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.accounts.UserByRef(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toAdminUser(u))
	return nil
}

type adminPatchRequest struct {
	Username *string   `json:"username"`
	Email    *string   `json:"email"`
	Roles    *[]string `json:"roles"`
	Disabled *bool     `json:"disabled"`
	// EmailVerified sets whether the address counts as verified (CONTRACT §9, §11).
	EmailVerified *bool `json:"email_verified"`
}

// handleAdminPatchUser is PATCH /admin/users/{id} with any of {disabled, roles, email, username}.
func (s *Server) handleAdminPatchUser(w http.ResponseWriter, r *http.Request) error {
	var req adminPatchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == nil && req.Email == nil && req.Roles == nil && req.Disabled == nil && req.EmailVerified == nil {
		return errBadRequest("invalid_request", "give any of disabled, roles, email, username, email_verified")
	}
	in := account.UserPatch{ProfileInput: account.ProfileInput{Username: req.Username, Email: req.Email}, Roles: req.Roles, Disabled: req.Disabled,
		EmailVerified: req.EmailVerified}
	u, err := s.accounts.UpdateUser(r.Context(), actor(r), mux.Vars(r)["id"], in)
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, toAdminUser(u))
	return nil
}

// handleAdminDeleteUser is DELETE /admin/users/{id} → 204.
func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.accounts.DeleteUser(r.Context(), actor(r), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminLogout is POST /admin/users/{id}/logout → 204, every session of the user ended.
func (s *Server) handleAdminLogout(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.accounts.LogoutEverywhere(r.Context(), actor(r), mux.Vars(r)["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type auditEventJSON struct {
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	UserID string    `json:"user_id"`
	Actor  string    `json:"actor"`
	IP     string    `json:"ip"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail"`
}

// handleAdminAudit is GET /admin/audit?user_id=&type=&limit=&cursor=: the trail, newest first.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.accounts.AuditTrail(r.Context(), account.AuditSearch{UserID: q.Get("user_id"), Type: q.Get("type"),
		Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	out := struct {
		Events     []auditEventJSON `json:"events"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}{Events: make([]auditEventJSON, len(page.Events)), NextCursor: page.NextCursor}
	for i, e := range page.Events {
		out.Events[i] = auditEventJSON{ID: e.ID, Type: e.Event, UserID: e.UserID, Actor: e.Actor, IP: e.IP, At: e.At, Detail: e.Detail}
	}
	encode(w, http.StatusOK, out)
	return nil
}
