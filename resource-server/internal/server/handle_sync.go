package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// syncRequest is syncevent.Batch with "events" required.
type syncRequest struct {
	Events *[]syncevent.Event `json:"events"`
}

// handleSync applies a batch of user-sync events from the auth server, in one transaction and
// idempotently → 200 {"applied": n, "ignored": m}; the batch's revocations enter the deny-list
// once it committed. The route's middleware has verified the
// auth server's sync token; a malformed body or event is 400 and nothing is applied.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return httpapi.ErrUnsupportedMedia
	}
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	if raw, _ := verifier.BearerToken(r); !verifier.SyncBodyMatches(raw, body) { // verified by the route's middleware
		return errBodyMismatch
	}
	var req syncRequest
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Events == nil {
		return errBadRequest(`body must be {"events": [...]}`)
	}
	res, err := s.store.Apply(r.Context(), *req.Events)
	if err != nil {
		return err
	}
	if s.deny != nil {
		s.deny.Remember(res.Revocations) // committed: refused from now on, here; other replicas read it
	}
	s.metrics.syncApplied(res.Applied, res.Ignored)
	if res.Applied > 0 {
		s.log.Info("user sync applied", "request_id", requestID(r.Context()), "applied", res.Applied, "ignored", res.Ignored)
	}
	httpapi.Encode(w, http.StatusOK, res)
	return nil
}

// errBodyMismatch refuses a sync token presented with another body than the one it signs.
var errBodyMismatch = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token",
	Description: "the sync token does not match the request body",
	Challenge:   `Bearer error="invalid_token", error_description="the sync token does not match the request body"`}
