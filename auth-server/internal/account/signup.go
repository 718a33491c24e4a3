package account

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// SignupInput is a new account.
type SignupInput struct {
	Username string
	Email    string
	Password string
}

// Signup creates a user (with its sync event, in the same transaction) and starts its first
// session. Input that breaks the rules gives ErrInvalidUsername, ErrInvalidEmail or
// ErrInvalidPassword; a taken username or email ErrUserExists.
func (s *Service) Signup(ctx context.Context, in SignupInput, c Client) (store.User, Tokens, error) {
	username, err := normalizeUsername(in.Username)
	if err != nil {
		return store.User{}, Tokens{}, err
	}
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return store.User{}, Tokens{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return store.User{}, Tokens{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return store.User{}, Tokens{}, err
	}
	now := s.now().UTC()
	u := store.User{ID: uuid.NewString(), Username: username, Email: email, PasswordHash: hash,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	mails, err := s.verificationMails(u, now)
	if err != nil {
		return store.User{}, Tokens{}, err
	}
	if err := s.store.CreateUser(ctx, u, s.cfg.SyncTargets, mails...); err != nil {
		if errors.Is(err, store.ErrUserExists) {
			return store.User{}, Tokens{}, ErrUserExists
		}
		return store.User{}, Tokens{}, err
	}
	s.signalSync()
	s.signalMail()
	first := clients.Builtin()
	t, err := s.startSession(ctx, u, grant{event: store.AuditSignup, client: first.ID, scope: first.DefaultScopes}, c)
	return u, t, err
}

// grant is what a new session was granted: to which client, with which scopes, and the audit
// event that records it.
type grant struct {
	event  string
	client string
	scope  []string
}

// startSession begins a refresh session for u, with the audit event written in its
// transaction, and returns its tokens.
func (s *Service) startSession(ctx context.Context, u store.User, g grant, c Client) (Tokens, error) {
	now := s.now().UTC()
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return Tokens{}, err
	}
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: s.cfg.Refresh.SessionExpiry(now), UserAgent: c.UserAgent, IP: c.IP, ClientID: g.client, Scope: g.scope}
	ev := audit(now, g.event, u.ID, sess.ID, c)
	if err := s.store.CreateSession(ctx, sess, hash, s.cfg.Refresh.TokenExpiry(now, sess.ExpiresAt), ev); err != nil {
		return Tokens{}, err
	}
	return s.tokens(userSubject(u, g.client, g.scope), sess.ID, tok)
}

// userSubject is what an access token for u through client with scope says.
func userSubject(u store.User, client string, scope []string) tokens.Subject {
	return tokens.Subject{UserID: u.ID, Username: u.Username, Email: u.Email, Roles: u.Roles, ClientID: client, Scope: scope,
		NotBefore: u.TokensNotBefore, EmailVerified: u.EmailVerified}
}

// tokens signs a fresh access token for sub in session sid (none for a client's own token),
// next to refreshToken.
func (s *Service) tokens(sub tokens.Subject, sid, refreshToken string) (Tokens, error) {
	at, exp, err := s.issuer.Access(sub, sid)
	if err != nil {
		return Tokens{}, err
	}
	s.obs.AccessTokenIssued(at)
	return Tokens{AccessToken: at, ExpiresIn: exp.Sub(s.now()), RefreshToken: refreshToken, Scope: sub.Scope}, nil
}
