// Package account holds the auth server's use cases: sign-up, log-in, refresh, log-out,
// revocation, password change, account deletion, and the sessions of a user. Each is a method
// taking ctx, a plain input and the client's identity, and returning a result or one of the
// sentinel errors of errors.go; nothing here knows HTTP. The service owns the decisions that
// span the store and the policies: the throttle key, starting a session, minting its tokens,
// and the audit trail, which is always written in the transaction of the change it records.
package account

import (
	"context"
	"log/slog"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/authcode"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/keys"
)

// Config is the policy the service applies.
type Config struct {
	Throttle    throttle.Policy
	Refresh     refresh.Policy
	SyncTargets []string // the user-sync targets every user change is queued for
	Mail        MailPolicy
	// MFAIssuer names this service in authenticator apps (the otpauth:// URI's issuer).
	MFAIssuer string
}

// Observer is told the outcome of logins and refreshes and every access token issued (the
// server's metrics implement it). Its methods must be cheap and safe for concurrent use.
type Observer interface {
	Login(outcome string)           // success, failure or throttled
	Refresh(outcome string)         // the refresh.Outcome's label
	AccessTokenIssued(token string) // a signed access token
}

// AccessVerifier checks an access token of this server (signature, type, issuer, audience,
// time) and returns who it speaks for. It does not check that the session is still live:
// Authenticate does.
type AccessVerifier interface {
	VerifyAccess(ctx context.Context, token string) (Principal, error)
}

// Deps are the service's collaborators.
type Deps struct {
	Store    *store.Store
	Hasher   *password.Hasher
	Issuer   *tokens.Issuer
	Verifier AccessVerifier
	Observer Observer // optional
	Logger   *slog.Logger
	Now      func() time.Time
	// SyncNotify, when set, is called after a committed user change to wake the sync relay.
	SyncNotify func()
	// IDTokens signs OpenID Connect ID tokens (the authorization code flow), IDVerifier checks
	// them (id_token_hint); both optional.
	IDTokens   IDTokenSigner
	IDVerifier IDTokenVerifier
	// MailNotify, when set, is called after a committed change queued a mail, to wake the
	// mail relay.
	MailNotify func()
	// Sealer seals TOTP secrets at rest (KEY_ENCRYPTION_KEY); nil makes enrolment answer
	// ErrMFAUnavailable.
	Sealer *keys.Sealer
	// Codes seals authorization codes; nil gives a Sealer under a random secret, whose codes
	// no other process opens (one replica, tests).
	Codes *authcode.Sealer
	// ClientKeys, when set, gives a client registered with an ID-token algorithm of its own
	// that algorithm's key lifecycle, in the registration's transaction (the key ring).
	ClientKeys ClientKeys
}

// Service runs the account use cases. It is safe for concurrent use.
type Service struct {
	cfg        Config
	store      *store.Store
	hasher     *password.Hasher
	issuer     *tokens.Issuer
	verifier   AccessVerifier
	obs        Observer
	log        *slog.Logger
	now        func() time.Time
	syncNotify func()
	clients    *clientCache
	idTokens   IDTokenSigner
	idVerifier IDTokenVerifier
	mail       MailPolicy
	mailNotify func()
	sealer     *keys.Sealer
	clientKeys ClientKeys
	codes      *authcode.Sealer
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	obs := d.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	codes := d.Codes
	if codes == nil {
		codes = authcode.Random()
	}
	return &Service{cfg: cfg, store: d.Store, hasher: d.Hasher, issuer: d.Issuer, verifier: d.Verifier,
		obs: obs, log: d.Logger, now: d.Now, syncNotify: d.SyncNotify, clients: newClientCache(), idTokens: d.IDTokens, idVerifier: d.IDVerifier,
		mail: cfg.Mail.withDefaults(), mailNotify: d.MailNotify, sealer: d.Sealer, clientKeys: d.ClientKeys, codes: codes}
}

// Client is who is calling: the address and user agent recorded with sessions and in the
// audit trail, and counted by login throttling.
type Client struct {
	IP        string
	UserAgent string
}

// Principal is the subject of a verified access token: a user in a session, through a
// client, with the scopes and roles the token carries.
type Principal struct {
	UserID    string
	SessionID string
	ClientID  string
	Scope     []string
	Roles     []string // as the token carries them
	// CurrentRoles are the user's roles now, read by Authenticate with the session.
	CurrentRoles []string
	// IssuedAt is the token's iat.
	IssuedAt time.Time
}

// Tokens is a token response: an access token, its lifetime and scopes, and the session's
// refresh token (none for a client's own token).
type Tokens struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	Scope        []string
	IDToken      string // with openid, in the authorization code flow and its refreshes
}

type nopObserver struct{}

func (nopObserver) Login(string)             {}
func (nopObserver) Refresh(string)           {}
func (nopObserver) AccessTokenIssued(string) {}

// signalSync wakes the sync relay after a user change or a revocation was committed (it also
// polls).
func (s *Service) signalSync() {
	if s.syncNotify != nil {
		s.syncNotify()
	}
}

// synced is err, after waking the sync relay when err is nil: the ending of a session, whose
// session.revoked the store queued, reaches the resource servers without waiting for a poll.
func (s *Service) synced(err error) error {
	if err == nil {
		s.signalSync()
	}
	return err
}

// audit is the audit event of type event for the client, at now.
func audit(now time.Time, event, userID, sessionID string, c Client) store.AuditEvent {
	return store.AuditEvent{At: now, Event: event, UserID: userID, SessionID: sessionID, IP: c.IP}
}
