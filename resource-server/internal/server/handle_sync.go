package server

import (
	"net/http"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// syncRequest is syncevent.Batch with "events" required.
type syncRequest struct {
	Events *[]syncevent.Event `json:"events"`
}

// handleSync applies a batch of user-sync events from the auth server, in one transaction and
// idempotently → 200 {"applied": n, "ignored": m}. The route's middleware has verified the
// auth server's sync token; a malformed body or event is 400 and nothing is applied.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) error {
	var req syncRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Events == nil {
		return errBadRequest(`body must be {"events": [...]}`)
	}
	res, err := s.store.Apply(r.Context(), *req.Events)
	if err != nil {
		return err
	}
	s.metrics.syncApplied(res.Applied, res.Ignored)
	if res.Applied > 0 {
		s.log.Info("user sync applied", "request_id", requestID(r.Context()), "applied", res.Applied, "ignored", res.Ignored)
	}
	encode(w, http.StatusOK, res)
	return nil
}
