package account

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

// maxPasswordLen bounds a presented password (sign-up allows 256 characters, four bytes each at
// most): a longer one is refused without hashing it.
const maxPasswordLen = 1024

// LoginInput is a password log-in; Login is the username or the email. Client names the
// client (none: the built-in first-party one) and Scope the scopes asked for (none: the
// client's defaults).
type LoginInput struct {
	Login    string
	Password string
	Client   ClientAuth
	Scope    string
}

// Login checks the client and the credentials and starts a session. A client that fails to
// authenticate gives a *ClientError, one without the password grant ErrUnauthorizedClient, a
// scope it may not have clients.ErrInvalidScope. Unknown users and wrong passwords both give
// ErrInvalidCredentials after the same work; a throttled account or address gives a
// *ThrottledError (ErrThrottled), the right password included; a disabled account with the
// right password ErrAccountDisabled; a user with TOTP and the right password a
// *MFARequiredError (ErrMFARequired), whose mfa_token LoginMFA takes.
func (s *Service) Login(ctx context.Context, in LoginInput, c Client) (Tokens, error) {
	client, scope, err := s.grantFor(ctx, in.Client, clients.GrantPassword, in.Scope)
	if err != nil {
		return Tokens{}, err
	}
	u, err := s.checkPassword(ctx, in.Login, in.Password, c)
	if err != nil {
		return Tokens{}, err
	}
	// A user with TOTP gets the second step (mfa_login.go) instead of a session.
	if err := s.secondStep(ctx, u, grant{client: client.ID, scope: scope}, c); err != nil {
		return Tokens{}, err
	}
	t, err := s.startSession(ctx, u, grant{event: store.AuditLoginSuccess, client: client.ID, scope: scope}, c)
	if err != nil {
		return Tokens{}, err
	}
	s.obs.Login("success")
	return t, nil
}

// checkPassword is the password check of every log-in (the password grant, /login, the
// hosted login page): throttled per account and per address, the same work for unknown
// users as for wrong passwords, a disabled account told only after the right password, an
// old hash rehashed, the throttle cleared on success. It returns the user.
func (s *Service) checkPassword(ctx context.Context, loginName, pw string, c Client) (store.User, error) {
	login := strings.TrimSpace(loginName)
	if impossibleLogin(login) || len(pw) > maxPasswordLen {
		// No such user can exist: the same answer, and the same work, as a wrong password,
		// without storing the name anywhere.
		s.hasher.VerifyDummy(ctx, pw)
		return store.User{}, ErrInvalidCredentials
	}
	u, err := s.store.UserByLogin(ctx, login)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	g := s.newGate(accountKey(u.ID, login), c)
	if err := g.check(ctx, login); err != nil {
		s.obs.Login("throttled")
		return store.User{}, err
	}
	if !known {
		s.hasher.VerifyDummy(ctx, pw) // the same work as a wrong password
		return store.User{}, s.loginFailed(ctx, g, "", login)
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, s.loginFailed(ctx, g, u.ID, login)
	}
	if u.Disabled() {
		// Only after the right password: a wrong one answers as for any account.
		s.obs.Login("disabled")
		return store.User{}, ErrAccountDisabled
	}
	if s.mail.RequireVerified && !u.EmailVerified {
		// Only after the right password, as for a disabled account (REQUIRE_EMAIL_VERIFICATION).
		s.obs.Login("unverified")
		return store.User{}, ErrEmailNotVerified
	}
	if rehash {
		s.rehash(ctx, u.ID, pw)
	}
	if err := g.clear(ctx); err != nil {
		s.log.Warn("clear throttle failed", "err", err)
	}
	return u, nil
}

// BrowserLogin checks a password typed on the hosted login page (as every log-in: throttled,
// same errors) and starts the browser's login session, returning the cookie value to set
// (stored only as its hash) and the session. A user with TOTP gets a *MFARequiredError
// instead, whose mfa_token BrowserLoginMFA takes with the code.
func (s *Service) BrowserLogin(ctx context.Context, login, pw string, c Client) (string, store.LoginSession, error) {
	u, err := s.checkPassword(ctx, login, pw, c)
	if err != nil {
		return "", store.LoginSession{}, err
	}
	if err := s.secondStep(ctx, u, grant{client: clients.FirstParty}, c); err != nil {
		return "", store.LoginSession{}, err
	}
	now := s.now().UTC()
	cookie, sess, err := s.newLoginSession(u, nil, now, c)
	if err != nil {
		return "", store.LoginSession{}, err
	}
	ev := audit(now, store.AuditLoginSuccess, u.ID, sess.ID, c)
	ev.Detail = "hosted login page"
	if err := s.store.CreateLoginSession(ctx, sess, ev); err != nil {
		return "", store.LoginSession{}, err
	}
	s.obs.Login("success")
	return cookie, store.LoginSession{Session: sess, AuthTime: now}, nil
}

// newLoginSession makes a browser's login session for u, authenticated by amr at now, and its
// cookie value (the session keeps only its hash).
func (s *Service) newLoginSession(u store.User, amr []string, now time.Time, c Client) (string, store.Session, error) {
	cookie, hash, err := refresh.NewToken()
	if err != nil {
		return "", store.Session{}, err
	}
	return cookie, store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: s.cfg.Refresh.SessionExpiry(now),
		UserAgent: c.UserAgent, IP: c.IP, ClientID: clients.FirstParty, AMR: amr, AuthTime: now, CookieHash: hash}, nil
}

func (s *Service) loginFailed(ctx context.Context, g gate, userID, login string) error {
	ev := audit(s.now(), store.AuditLoginFailure, userID, "", g.client)
	ev.Detail = login
	if err := g.fail(ctx, ev); err != nil {
		return err
	}
	s.obs.Login("failure")
	return ErrInvalidCredentials
}

// rehash replaces an outdated hash (an imported bcrypt one, or weaker argon2id parameters)
// after a successful log-in; a failure only delays it to the next log-in.
func (s *Service) rehash(ctx context.Context, userID, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, userID, h)
	}
	if err != nil {
		s.log.Warn("rehash failed", "user_id", userID, "err", err)
	}
}

// confirmPassword checks the password of a signed-in user before a change that needs it,
// throttled like log-in (the same counters), so that a stolen access token cannot be used to
// guess the password faster than log-in allows. A wrong one gives ErrWrongPassword.
func (s *Service) confirmPassword(ctx context.Context, u store.User, pw string, c Client) error {
	g := s.newGate(accountKey(u.ID, ""), c)
	if err := g.check(ctx, u.Username); err != nil {
		return err
	}
	ok := false
	if len(pw) <= maxPasswordLen {
		var err error
		if ok, _, err = s.hasher.Verify(ctx, pw, u.PasswordHash); err != nil {
			return err
		}
	}
	if !ok {
		ev := audit(s.now(), store.AuditPasswordFailure, u.ID, "", c)
		if err := g.fail(ctx, ev); err != nil {
			return err
		}
		return ErrWrongPassword
	}
	return nil
}

// accountKey is the throttle key of an account: the user's id when the user exists, so that
// its username and email share one counter, else the login as given (lower-cased), so that
// guessing at an unknown name is throttled the same way.
func accountKey(userID, login string) string {
	if userID != "" {
		return "account:" + userID
	}
	return "login:" + strings.ToLower(login)
}

// addressKey is the throttle key of a client address: an IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64).
func addressKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return "address:" + ip
	}
	return "address:" + a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// gate is the throttle of one attempt: the account's and the address's counters.
type gate struct {
	s       *Service
	acct    string
	addr    string
	client  Client
	counted bool // the account's counter held failures when checked
}

func (s *Service) newGate(acctKey string, c Client) gate {
	return gate{s: s, acct: acctKey, addr: addressKey(c.IP), client: c}
}

// check reads both counters (in one statement) and gives a *ThrottledError when either blocks now; the refusal
// is audited (with login as its detail).
func (g *gate) check(ctx context.Context, login string) error {
	acct, addr, err := g.s.store.ThrottleCounters(ctx, g.acct, g.addr)
	if err != nil {
		return err
	}
	g.counted = acct != (throttle.Counter{})
	now := g.s.now()
	wait, blocked := g.s.cfg.Throttle.Check(acct, addr, now)
	if !blocked {
		return nil
	}
	ev := audit(now, store.AuditLoginThrottled, "", "", g.client)
	ev.Detail = login
	if err := g.s.store.Audit(ctx, ev); err != nil {
		return err
	}
	return &ThrottledError{Wait: wait}
}

// fail counts a failed attempt on both counters, with its audit event in the same transaction.
func (g gate) fail(ctx context.Context, ev store.AuditEvent) error {
	now, p := g.s.now(), g.s.cfg.Throttle
	return g.s.store.RecordFailure(ctx, func(key string, c throttle.Counter) throttle.Counter {
		if key == g.acct {
			return p.Account.Fail(c, now)
		}
		return p.Address.Fail(c, now)
	}, ev, g.acct, g.addr)
}

// clear forgets the account's failures after a success; nothing is written when it had none.
func (g gate) clear(ctx context.Context) error {
	if !g.counted {
		return nil
	}
	return g.s.store.ClearThrottle(ctx, g.acct)
}
