package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

// handleLogout is POST /logout, JSON (or form) {refresh_token, all}: 204, the token's session
// revoked, or with all every session of its user. Like RFC 7009 it is lenient: an unknown,
// expired or already revoked token also gets 204, changing nothing. "all" needs a token that
// could still refresh (unspent, or a replay the policy allows); a superseded token only ends
// its own session, so an old stolen token cannot log its user out everywhere.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	tok := p.Get("refresh_token")
	if tok == "" {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	all := false
	if v := p.Get("all"); v != "" {
		if all, err = strconv.ParseBool(v); err != nil {
			return errBadRequest("invalid_request", "all must be a boolean")
		}
	}
	if len(tok) > maxRefreshTokenLen {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	now := s.now().UTC()
	st, err := s.store.LookupRefresh(r.Context(), refresh.Hash(tok))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil {
		if err := s.logout(r, st, all, now); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) logout(r *http.Request, st store.RefreshState, all bool, now time.Time) error {
	outcome := s.cfg.Refresh.Decide(policyState(st), now)
	if outcome == refresh.Invalid {
		return nil // the session is over already, or the token expired
	}
	ev := store.AuditEvent{At: now, UserID: st.Session.UserID, SessionID: st.Session.ID, IP: clientIP(r)}
	if all && (outcome == refresh.Rotate || outcome == refresh.Replay) {
		ev.Event = store.AuditLogoutAll
		_, err := s.store.RevokeUserSessions(r.Context(), st.Session.UserID, "", now, store.RevokeLogoutAll, ev)
		return err
	}
	ev.Event = store.AuditLogout
	return s.revokeSession(r, "", st.Session.ID, now, store.RevokeLogout, ev)
}

// revokeSession revokes a live session; one that is not live (any more) is no error.
func (s *Server) revokeSession(r *http.Request, userID, sid string, now time.Time, reason string, ev store.AuditEvent) error {
	err := s.store.RevokeSession(r.Context(), userID, sid, now, reason, ev)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// handleRevoke is RFC 7009 token revocation: form (or JSON) {token, token_type_hint} → 200,
// also for unknown or invalid tokens. A refresh token revokes its session; a valid access
// token revokes its session (sid). The hint is not needed: a JWT has two dots, a refresh
// token none, so the kind is told by the token itself.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	tok := p.Get("token")
	if tok == "" {
		return errBadRequest("invalid_request", "token is required")
	}
	now := s.now().UTC()
	ev := store.AuditEvent{At: now, Event: store.AuditLogout, IP: clientIP(r), Detail: "revoked through /revoke"}
	switch {
	case strings.Count(tok, ".") == 2:
		if c, err := s.bearer.Verify(r.Context(), tok); err == nil {
			ev.UserID, ev.SessionID = c.Subject, c.SessionID
			if err := s.revokeSession(r, c.Subject, c.SessionID, now, store.RevokeRevoked, ev); err != nil {
				return err
			}
		}
	case len(tok) <= maxRefreshTokenLen:
		st, err := s.store.LookupRefresh(r.Context(), refresh.Hash(tok))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			ev.UserID, ev.SessionID = st.Session.UserID, st.Session.ID
			if err := s.revokeSession(r, "", st.Session.ID, now, store.RevokeRevoked, ev); err != nil {
				return err
			}
		}
	}
	noStore(w)
	w.WriteHeader(http.StatusOK)
	return nil
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// handleListSessions is GET /sessions: the user's live sessions, current marking the one of
// the presented access token. expires_at is the session's absolute end (SESSION_MAX_TTL).
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	c := claimsFrom(r.Context())
	list, err := s.store.ListSessions(r.Context(), c.UserID, s.now().UTC())
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(list))
	for i, x := range list {
		out[i] = sessionJSON{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt, ExpiresAt: x.ExpiresAt,
			UserAgent: x.UserAgent, IP: x.IP, Current: x.ID == c.SessionID}
	}
	noStore(w)
	encode(w, http.StatusOK, map[string][]sessionJSON{"sessions": out})
	return nil
}

// handleEndSession is DELETE /sessions/{id}: 204; a session of another user, unknown or
// already ended is 404.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) error {
	c := claimsFrom(r.Context())
	id := mux.Vars(r)["id"]
	if _, err := uuid.Parse(id); err != nil {
		return errNotFound // not an id of ours (and never sent to the database)
	}
	now := s.now().UTC()
	ev := store.AuditEvent{At: now, Event: store.AuditSessionEnded, UserID: c.UserID, SessionID: id, IP: clientIP(r),
		Detail: "ended from session " + c.SessionID}
	err := s.store.RevokeSession(r.Context(), c.UserID, id, now, store.RevokeEnded, ev)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type changePasswordRequest struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

// handleChangePassword is POST /password {current_password, new_password}: 204, the new
// hash stored and every other session of the user ended (the current one stays). A wrong
// current password is 403 invalid_password and counts as a failed login of the account, so
// a stolen access token cannot be used to guess the password faster than the login allows.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.CurrentPassword == nil || req.NewPassword == nil {
		return errBadRequest("invalid_request", "current_password and new_password are required")
	}
	if err := checkPassword(*req.NewPassword); err != nil {
		return err
	}
	u, err := s.currentUser(r)
	if err != nil {
		return err
	}
	acctKey, ipKey := "account:"+strings.ToLower(u.Username), "address:"+clientIP(r)
	if wait, blocked, err := s.throttled(r, acctKey, ipKey); err != nil {
		return err
	} else if blocked {
		return errTooManyRequests(wait)
	}
	ctx := r.Context()
	ok, _, err := s.hasher.Verify(ctx, *req.CurrentPassword, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		now := s.now()
		if err := s.store.RecordFailure(ctx, func(key string, c throttle.Counter) throttle.Counter {
			if key == acctKey {
				return s.cfg.Throttle.Account.Fail(c, now)
			}
			return s.cfg.Throttle.Address.Fail(c, now)
		}, acctKey, ipKey); err != nil {
			return err
		}
		return errWrongPassword
	}
	hash, err := s.hasher.Hash(ctx, *req.NewPassword)
	if err != nil {
		return err
	}
	c, now := claimsFrom(ctx), s.now().UTC()
	ev := store.AuditEvent{At: now, Event: store.AuditPasswordChange, UserID: u.ID, SessionID: c.SessionID, IP: clientIP(r)}
	n, err := s.store.ChangePassword(ctx, u.ID, u.PasswordHash, hash, c.SessionID, now, ev)
	if errors.Is(err, store.ErrNotFound) {
		return errWrongPassword // changed (or the user deleted) since we checked it
	}
	if err != nil {
		return err
	}
	s.log.Info("password changed", "user_id", u.ID, "sessions_ended", n)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
