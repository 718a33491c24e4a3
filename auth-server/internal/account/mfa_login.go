package account

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// MFATokenTTL is how long the second step of a password log-in may wait.
const MFATokenTTL = 5 * time.Minute

// amrOTP is the amr value of a one-time password (RFC 8176).
const amrOTP = "otp"

// secondStep is the end of a password log-in with the right password: nil when the user has
// no active TOTP (u.MFA, read with the user: the session starts), else a *MFARequiredError
// whose mfa_token, stored only as a hash, lets LoginMFA finish it for the same user and
// client within MFATokenTTL.
func (s *Service) secondStep(ctx context.Context, u store.User, g grant, c Client) error {
	if !u.MFA {
		return nil
	}
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ch := store.MFAChallenge{Hash: hash, UserID: u.ID, ClientID: g.client, Scope: g.scope, CreatedAt: now, ExpiresAt: now.Add(MFATokenTTL)}
	if err := s.store.CreateMFAChallenge(ctx, ch, audit(now, store.AuditMFAChallenge, u.ID, "", c)); err != nil {
		return err
	}
	s.obs.Login("mfa_required")
	return &MFARequiredError{Token: tok, ExpiresIn: MFATokenTTL}
}

// LoginMFAInput is the second step of a password log-in: the mfa_token it answered, a TOTP
// code or an unused recovery code, and the client (the one the token was issued to).
type LoginMFAInput struct {
	Token  string
	Code   string
	Client ClientAuth
}

// LoginMFA finishes a password log-in with its second factor and starts the session, whose
// tokens carry amr ["pwd","otp"]. An mfa_token that is unknown, expired, used or another
// client's gives ErrInvalidMFAToken; a wrong code, a code accepted before or a used recovery
// code ErrInvalidCode (the mfa_token stays usable until it expires), counted towards
// throttling like failed log-ins (*ThrottledError); a user disabled meanwhile
// ErrAccountDisabled. The mfa_token, the code and the session are one transaction: of two
// concurrent uses of either, exactly one succeeds.
func (s *Service) LoginMFA(ctx context.Context, in LoginMFAInput, c Client) (Tokens, error) {
	client, err := s.authenticateClient(ctx, in.Client)
	if err != nil {
		return Tokens{}, err
	}
	var tok Tokens
	err = s.finishSecondStep(ctx, in.Token, client.ID, in.Code, c, func(u store.User, ch store.MFAChallenge, f store.Factor) error {
		var err error
		tok, err = s.completeMFA(ctx, u, ch, f, c)
		return err
	})
	return tok, err
}

// BrowserLoginMFA is the hosted login page's second step: the mfa_token BrowserLogin answered
// and a TOTP or recovery code, with LoginMFA's rules; it starts the browser's login session
// (amr pwd, otp) and returns its cookie value.
func (s *Service) BrowserLoginMFA(ctx context.Context, token, code string, c Client) (string, store.LoginSession, error) {
	var cookie string
	var ls store.LoginSession
	err := s.finishSecondStep(ctx, token, clients.FirstParty, code, c, func(u store.User, ch store.MFAChallenge, f store.Factor) error {
		now := s.now().UTC()
		ck, sess, err := s.newLoginSession(u, []string{accesstoken.AMRPassword, amrOTP}, now, c)
		if err != nil {
			return err
		}
		if err := s.store.CompleteMFALogin(ctx, ch.Hash, f, sess, "", time.Time{}, s.mfaAudits(now, u, sess.ID, f, c)...); err != nil {
			return err
		}
		cookie, ls = ck, store.LoginSession{Session: sess, AuthTime: now}
		return nil
	})
	return cookie, ls, err
}

// finishSecondStep checks the second step of a log-in through clientID (the mfa_token, the
// user, the throttle, the code) and runs complete, which spends the challenge and the factor
// and starts the session; a factor or challenge spent meanwhile fails as a wrong code would.
func (s *Service) finishSecondStep(ctx context.Context, token, clientID, code string, c Client, complete func(store.User, store.MFAChallenge, store.Factor) error) error {
	if token == "" || len(token) > maxRefreshTokenLen {
		return ErrInvalidMFAToken
	}
	hash := refresh.Hash(token)
	now := s.now().UTC()
	st, err := s.store.MFALogin(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.Challenge.ClientID != clientID) {
		return ErrInvalidMFAToken
	}
	if err != nil {
		return err
	}
	u, ch, t := st.User, st.Challenge, st.TOTP
	if u.Disabled() {
		return ErrAccountDisabled
	}
	g := s.newGate(mfaAccountKey(u.ID), c)
	if err := g.check(ctx, u.Username); err != nil {
		s.obs.Login("throttled")
		return err
	}
	if !t.Confirmed() {
		return ErrInvalidMFAToken // TOTP removed (reset) meanwhile: log in again
	}
	f, ok, err := s.matchFactor(t, code, now)
	if err != nil {
		return err
	}
	if !ok {
		s.obs.Login("failure")
		return s.mfaFailed(ctx, g, u.ID, "wrong code at log-in")
	}
	err = complete(u, ch, f)
	switch {
	case errors.Is(err, store.ErrFactorUsed):
		s.obs.Login("failure")
		return s.mfaFailed(ctx, g, u.ID, "used code at log-in")
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidMFAToken
	case err != nil:
		return err
	}
	s.clearGate(ctx, g)
	s.obs.Login("success")
	return nil
}

// mfaAudits are the audit events of a log-in finished with factor f in session sid.
func (s *Service) mfaAudits(now time.Time, u store.User, sid string, f store.Factor, c Client) []store.AuditEvent {
	evs := []store.AuditEvent{audit(now, store.AuditLoginSuccess, u.ID, sid, c)}
	evs[0].Detail = "with totp"
	if f.RecoveryHash != "" {
		evs[0].Detail = "with a recovery code"
		evs = append(evs, audit(now, store.AuditMFARecoveryUsed, u.ID, sid, c))
	}
	return evs
}

// completeMFA spends the challenge and the factor and starts the session, in one transaction.
func (s *Service) completeMFA(ctx context.Context, u store.User, ch store.MFAChallenge, f store.Factor, c Client) (Tokens, error) {
	now := s.now().UTC()
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return Tokens{}, err
	}
	amr := []string{accesstoken.AMRPassword, amrOTP}
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: s.cfg.Refresh.SessionExpiry(now), UserAgent: c.UserAgent, IP: c.IP, ClientID: ch.ClientID, Scope: ch.Scope, AMR: amr}
	if err := s.store.CompleteMFALogin(ctx, ch.Hash, f, sess, hash, s.cfg.Refresh.TokenExpiry(now, sess.ExpiresAt), s.mfaAudits(now, u, sess.ID, f, c)...); err != nil {
		return Tokens{}, err
	}
	sub := userSubject(u, ch.ClientID, ch.Scope)
	sub.AMR = amr
	return s.tokens(sub, sess.ID, tok)
}

// sessionAMR is the amr of a stored session's tokens: nil (a password log-in) when it has
// none recorded.
func sessionAMR(amr []string) []string {
	if len(amr) == 0 {
		return nil
	}
	return amr
}
