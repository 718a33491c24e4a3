package account

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// maxRefreshTokenLen bounds a presented refresh token (ours are 43 characters): longer ones
// are refused without a database lookup.
const maxRefreshTokenLen = 256

// RefreshInput is a refresh: the token, the client presenting it (none: first-party), and
// the scopes asked for (none: the session's; else a subset of them, RFC 6749 §6).
type RefreshInput struct {
	Token  string
	Client ClientAuth
	Scope  string
}

// Refresh spends the token and returns its child in the same session with a fresh access token
// (or, on a replay the policy allows, the child it already has). Reuse revokes the session,
// committed, and gives ErrInvalidGrant like any unknown, expired or revoked token, or one
// issued to another client. A scope wider than the session's gives clients.ErrInvalidScope and
// changes nothing.
func (s *Service) Refresh(ctx context.Context, in RefreshInput, c Client) (Tokens, error) {
	client, err := s.authenticateClient(ctx, in.Client)
	if err != nil {
		return Tokens{}, err
	}
	if !client.HasGrant(clients.GrantRefreshToken) {
		return Tokens{}, ErrUnauthorizedClient
	}
	requested, err := clients.ParseScope(in.Scope)
	if err != nil {
		return Tokens{}, err
	}
	if in.Token == "" || len(in.Token) > maxRefreshTokenLen {
		s.obs.Refresh(refresh.Invalid.String())
		return Tokens{}, ErrInvalidGrant
	}
	run := &refreshRun{policy: s.cfg.Refresh, token: in.Token, now: s.now().UTC(), client: c, clientID: client.ID, requested: requested}
	st, err := s.store.Refresh(ctx, refresh.Hash(in.Token), run.now, run.decide)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrSessionEnded):
		run.outcome = refresh.Invalid
	case err != nil:
		return Tokens{}, err
	}
	s.obs.Refresh(run.outcome.String())
	switch run.outcome {
	case refresh.Reuse:
		s.signalSync() // the session's revocation was committed
		s.log.Warn("refresh token reuse: session revoked", "session_id", st.Session.ID, "user_id", st.Session.UserID, "ip", c.IP)
		return Tokens{}, ErrInvalidGrant
	case refresh.Rotate, refresh.Replay:
	default:
		return Tokens{}, ErrInvalidGrant
	}
	// The access token is signed after the store's work is done, with the user read in the
	// same statement as the token: no lock is held while signing.
	sub := userSubject(st.User, st.Session.ClientID, run.scope)
	sub.AMR = sessionAMR(st.Session.AMR) // the session's, kept by every refresh
	t, err := s.tokens(sub, st.Session.ID, run.child)
	if err != nil || st.Session.AuthTime.IsZero() || !slices.Contains(run.scope, "openid") || s.idTokens == nil {
		return t, err
	}
	// A session started by an authorization code: a fresh ID token too (OpenID Connect Core
	// §12.2), with the original auth_time and no nonce.
	// The authenticated client is the session's (decide checked it): its registered algorithm.
	t.IDToken, err = s.idToken(st.User, client, run.scope, st.Session.ID, "", st.Session.AuthTime, sub.AMR)
	return t, err
}

// refreshRun is one refresh: the decision taken on the state the store read, and the child
// token it yields.
type refreshRun struct {
	policy    refresh.Policy
	token     string
	now       time.Time
	client    Client
	clientID  string   // the authenticated client, which must be the session's
	requested []string // the scopes asked for
	outcome   refresh.Outcome
	child     string
	scope     []string // the access token's scopes
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
	if st.Session.ClientID != x.clientID {
		// Issued to another client (RFC 6749 §6): as unknown, and no reuse alarm.
		x.outcome = refresh.Invalid
	}
	if x.outcome == refresh.Rotate || x.outcome == refresh.Replay {
		scope, err := clients.Narrow(st.Session.Scope, x.requested)
		if err != nil {
			x.outcome = refresh.Invalid
			return store.RefreshStep{}, err
		}
		x.scope = scope
	}
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
		return s.synced(err)
	}
	ev := audit(now, store.AuditLogout, st.Session.UserID, st.Session.ID, c)
	return ignoreNotFound(s.synced(s.store.RevokeSession(ctx, "", st.Session.ID, now, store.RevokeLogout, ev)))
}

// Revoke is RFC 7009 token revocation by an authenticated client: a refresh token revokes
// its session, and so does a valid access token (its sid). Unknown and invalid tokens, and
// tokens of other clients (which a client may not revoke), change nothing and are no error.
// The kind is told by the token itself: a JWT has two dots, a refresh token none.
func (s *Service) Revoke(ctx context.Context, token string, a ClientAuth, c Client) error {
	client, err := s.authenticateClient(ctx, a)
	if err != nil {
		return err
	}
	var uid, sid, owner string
	switch {
	case strings.Count(token, ".") == 2:
		p, err := s.verifier.VerifyAccess(ctx, token)
		if err != nil || p.SessionID == "" {
			return nil
		}
		uid, sid, owner = p.UserID, p.SessionID, p.ClientID
	case len(token) <= maxRefreshTokenLen:
		st, err := s.store.LookupRefresh(ctx, refresh.Hash(token))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		uid, sid, owner = st.Session.UserID, st.Session.ID, st.Session.ClientID
	default:
		return nil
	}
	if owner != client.ID {
		return nil
	}
	now := s.now().UTC()
	ev := audit(now, store.AuditLogout, uid, sid, c)
	ev.Detail = "revoked through /revoke by client " + client.ID
	return ignoreNotFound(s.synced(s.store.RevokeSession(ctx, uid, sid, now, store.RevokeRevoked, ev)))
}

// ClientCredentials issues a confidential client a token of its own (RFC 6749 §4.4): sub is
// its client_id, roles its roles, no session and no refresh token.
func (s *Service) ClientCredentials(ctx context.Context, a ClientAuth, scope string) (Tokens, error) {
	client, granted, err := s.grantFor(ctx, a, clients.GrantClientCredentials, scope)
	if err != nil {
		return Tokens{}, err
	}
	roles := client.Roles
	if roles == nil {
		roles = []string{}
	}
	return s.tokens(tokens.Subject{UserID: client.ID, ClientID: client.ID, Roles: roles, Scope: granted}, "", "")
}

// ignoreNotFound treats a session that is not live (any more) as revoked.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
