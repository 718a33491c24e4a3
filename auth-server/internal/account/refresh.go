package account

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// maxRefreshTokenLen bounds a presented refresh token (ours are 43 characters): longer ones
// are refused without a database lookup.
const maxRefreshTokenLen = 256

func tokensSubject(u store.User) tokens.Subject {
	return tokens.Subject{UserID: u.ID, Username: u.Username, Email: u.Email}
}

// Refresh spends token and returns its child in the same session with a fresh access token
// (or, on a replay the policy allows, the child it already has). Reuse revokes the session,
// committed, and gives ErrInvalidGrant like any unknown, expired or revoked token.
func (s *Service) Refresh(ctx context.Context, token string, c Client) (Tokens, error) {
	if token == "" || len(token) > maxRefreshTokenLen {
		s.obs.Refresh(refresh.Invalid.String())
		return Tokens{}, ErrInvalidGrant
	}
	run := &refreshRun{policy: s.cfg.Refresh, token: token, now: s.now().UTC(), client: c}
	st, err := s.store.Refresh(ctx, refresh.Hash(token), run.now, run.decide)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrSessionEnded):
		run.outcome = refresh.Invalid
	case err != nil:
		return Tokens{}, err
	}
	s.obs.Refresh(run.outcome.String())
	switch run.outcome {
	case refresh.Reuse:
		s.log.Warn("refresh token reuse: session revoked", "session_id", st.Session.ID, "user_id", st.Session.UserID, "ip", c.IP)
		return Tokens{}, ErrInvalidGrant
	case refresh.Rotate, refresh.Replay:
	default:
		return Tokens{}, ErrInvalidGrant
	}
	// The access token is signed after the store's work is done, with the user read in the
	// same statement as the token: no lock is held while signing.
	return s.tokens(st.User, st.Session.ID, run.child)
}

// refreshRun is one refresh: the decision taken on the state the store read, and the child
// token it yields.
type refreshRun struct {
	policy  refresh.Policy
	token   string
	now     time.Time
	client  Client
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
	x.outcome, x.child = x.policy.Decide(policyState(st), x.now), ""
	step := store.RefreshStep{Action: x.outcome}
	switch x.outcome {
	case refresh.Rotate:
		child, hash, sealed, err := x.makeChild()
		if err != nil {
			return store.RefreshStep{}, err
		}
		x.child = child
		step.ChildHash, step.ChildSealed, step.ChildExpires = hash, sealed, x.policy.TokenExpiry(x.now, st.Session.ExpiresAt)
	case refresh.Replay:
		child, err := refresh.Open(x.token, st.Token.ChildSealed)
		if err != nil {
			return store.RefreshStep{}, err
		}
		x.child = child
	case refresh.Reuse:
		step.Reason = store.RevokeReuse
		step.Audit = audit(x.now, store.AuditRefreshReuse, st.Session.UserID, st.Session.ID, x.client)
		step.Audit.Detail = "spent refresh token presented again; session revoked"
	}
	return step, nil
}

// policyState is what the refresh policy needs of a stored token.
func policyState(st store.RefreshState) refresh.State {
	return refresh.State{TokenExpiresAt: st.Token.ExpiresAt, SpentAt: st.Token.SpentAt, ChildSpent: st.ChildSpent,
		SessionExpiresAt: st.Session.ExpiresAt, SessionRevoked: !st.Session.RevokedAt.IsZero(), UserDisabled: st.User.Disabled()}
}

// Logout ends the session of a refresh token, or with all every session of its user. Like
// RFC 7009 it is lenient: an unknown, expired or already revoked token changes nothing and is
// no error. "all" needs a token that could still refresh (unspent, or a replay the policy
// allows); a superseded token only ends its own session, so an old stolen token cannot log
// its user out everywhere.
func (s *Service) Logout(ctx context.Context, token string, all bool, c Client) error {
	if len(token) > maxRefreshTokenLen {
		return nil
	}
	st, err := s.store.LookupRefresh(ctx, refresh.Hash(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	outcome := s.cfg.Refresh.Decide(policyState(st), now)
	if outcome == refresh.Invalid {
		return nil // the session is over already, or the token expired
	}
	if all && (outcome == refresh.Rotate || outcome == refresh.Replay) {
		ev := audit(now, store.AuditLogoutAll, st.Session.UserID, st.Session.ID, c)
		_, err := s.store.RevokeUserSessions(ctx, st.Session.UserID, "", now, store.RevokeLogoutAll, ev)
		return err
	}
	ev := audit(now, store.AuditLogout, st.Session.UserID, st.Session.ID, c)
	return ignoreNotFound(s.store.RevokeSession(ctx, "", st.Session.ID, now, store.RevokeLogout, ev))
}

// Revoke is RFC 7009 token revocation: a refresh token revokes its session, and so does a
// valid access token (its sid). Unknown and invalid tokens are no error. The kind is told by
// the token itself: a JWT has two dots, a refresh token none.
func (s *Service) Revoke(ctx context.Context, token string, c Client) error {
	var uid, sid string
	switch {
	case strings.Count(token, ".") == 2:
		p, err := s.verifier.VerifyAccess(ctx, token)
		if err != nil {
			return nil
		}
		uid, sid = p.UserID, p.SessionID
	case len(token) <= maxRefreshTokenLen:
		st, err := s.store.LookupRefresh(ctx, refresh.Hash(token))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		uid, sid = st.Session.UserID, st.Session.ID
	default:
		return nil
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditLogout, uid, sid, c)
	ev.Detail = "revoked through /revoke"
	return ignoreNotFound(s.store.RevokeSession(ctx, uid, sid, now, store.RevokeRevoked, ev))
}

// ignoreNotFound treats a session that is not live (any more) as revoked.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
