package server

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

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
	p := principal(r.Context())
	list, err := s.accounts.Sessions(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(list))
	for i, x := range list {
		out[i] = sessionJSON{ID: x.ID, CreatedAt: x.CreatedAt, LastUsedAt: x.LastUsedAt, ExpiresAt: x.ExpiresAt,
			UserAgent: x.UserAgent, IP: x.IP, Current: x.ID == p.SessionID}
	}
	noStore(w)
	encode(w, http.StatusOK, map[string][]sessionJSON{"sessions": out})
	return nil
}

// handleEndSession is DELETE /sessions/{id}: 204; a session of another user, unknown or
// already ended is 404.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.accounts.EndSession(r.Context(), principal(r.Context()), mux.Vars(r)["id"], clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
