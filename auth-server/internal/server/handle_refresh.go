package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// maxRefreshTokenLen bounds a presented refresh token (ours are 43 characters): longer ones
// are refused without a database lookup.
const maxRefreshTokenLen = 256

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// handleRefresh is POST /refresh: JSON {refresh_token} → token response.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.RefreshToken == nil {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	return s.refreshGrant(w, r, *req.RefreshToken)
}

// refreshGrant spends token and answers a token response with its child in the same
// session (or, on an allowed replay, the child it already has). Reuse revokes the session,
// committed, and answers invalid_grant like any unknown, expired or revoked token.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, token string) error {
	if token == "" {
		return errBadRequest("invalid_request", "refresh_token is required")
	}
	if len(token) > maxRefreshTokenLen {
		s.metrics.refresh(refresh.Invalid.String())
		return errInvalidGrant
	}
	run := &refreshRun{s: s, token: token, now: s.now().UTC(), ip: clientIP(r)}
	st, err := s.store.Refresh(r.Context(), refresh.Hash(token), run.now, run.decide)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrSessionEnded):
		run.outcome = refresh.Invalid
	case err != nil:
		return err
	}
	s.metrics.refresh(run.outcome.String())
	switch run.outcome {
	case refresh.Reuse:
		s.log.Warn("refresh token reuse: session revoked", "session_id", st.Session.ID, "user_id", st.Session.UserID, "ip", run.ip)
		return errInvalidGrant
	case refresh.Rotate, refresh.Replay:
	default:
		return errInvalidGrant
	}
	// The access token is signed after the store's work is done, with the user read in the
	// same statement as the token: no lock is held while signing.
	tr, err := s.tokenResponse(st.User, st.Session.ID, run.child)
	if err != nil {
		return err
	}
	noStore(w)
	encode(w, http.StatusOK, tr)
	return nil
}

// refreshRun is one refresh: the decision taken on the state the store read, and the child
// token it yields.
type refreshRun struct {
	s       *Server
	token   string
	now     time.Time
	ip      string
	outcome refresh.Outcome
	child   string
	// made once, on the first decision to rotate, and reused if decide runs again
	newChild, newHash, newSealed string
}

// makeChild returns a new child token, its hash and the child sealed under the presented
// token, made on the first call and the same on later ones: a rotation decided again (after
// a lost race) stores the child made for the first, which was never committed.
func (x *refreshRun) makeChild() (child, hash, sealed string, err error) {
	if x.newChild != "" {
		return x.newChild, x.newHash, x.newSealed, nil
	}
	if child, hash, err = refresh.NewToken(); err != nil {
		return "", "", "", err
	}
	if sealed, err = refresh.Seal(x.token, child); err != nil {
		return "", "", "", err
	}
	x.newChild, x.newHash, x.newSealed = child, hash, sealed
	return child, hash, sealed, nil
}

// decide applies the refresh policy to the state the store read; it may run again (the
// store decides again under lock after a lost race, or retries its transaction), so it sets
// every result afresh.
func (x *refreshRun) decide(st store.RefreshState) (store.RefreshStep, error) {
	p := x.s.cfg.Refresh
	x.outcome, x.child = p.Decide(policyState(st), x.now), ""
	switch x.outcome {
	case refresh.Rotate:
		child, hash, sealed, err := x.makeChild()
		if err != nil {
			return store.RefreshStep{}, err
		}
		x.child = child
		return store.RefreshStep{Action: store.RefreshRotate, ChildHash: hash, ChildSealed: sealed,
			ChildExpires: p.TokenExpiry(x.now, st.Session.ExpiresAt)}, nil
	case refresh.Replay:
		child, err := refresh.Open(x.token, st.Token.ChildSealed)
		if err != nil {
			return store.RefreshStep{}, err
		}
		x.child = child
		return store.RefreshStep{Action: store.RefreshReplay}, nil
	case refresh.Reuse:
		return store.RefreshStep{Action: store.RefreshRevoke, Reason: store.RevokeReuse, Audit: store.AuditEvent{
			At: x.now, Event: store.AuditRefreshReuse, UserID: st.Session.UserID, SessionID: st.Session.ID, IP: x.ip,
			Detail: "spent refresh token presented again; session revoked"}}, nil
	default:
		return store.RefreshStep{Action: store.RefreshReject}, nil
	}
}

// policyState is what the refresh policy needs of a stored token.
func policyState(st store.RefreshState) refresh.State {
	return refresh.State{TokenExpiresAt: st.Token.ExpiresAt, SpentAt: st.Token.SpentAt, ChildSpent: st.ChildSpent,
		SessionExpiresAt: st.Session.ExpiresAt, SessionRevoked: !st.Session.RevokedAt.IsZero()}
}
