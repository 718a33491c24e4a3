package account

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
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
	if err := s.store.CreateUser(ctx, u, s.cfg.SyncTargets); err != nil {
		if errors.Is(err, store.ErrUserExists) {
			return store.User{}, Tokens{}, ErrUserExists
		}
		return store.User{}, Tokens{}, err
	}
	s.signalSync()
	t, err := s.startSession(ctx, u, store.AuditSignup, c)
	return u, t, err
}

// startSession begins a refresh session for u, with the audit event of type event written in
// its transaction, and returns its tokens.
func (s *Service) startSession(ctx context.Context, u store.User, event string, c Client) (Tokens, error) {
	now := s.now().UTC()
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return Tokens{}, err
	}
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: s.cfg.Refresh.SessionExpiry(now), UserAgent: c.UserAgent, IP: c.IP}
	ev := audit(now, event, u.ID, sess.ID, c)
	if err := s.store.CreateSession(ctx, sess, hash, s.cfg.Refresh.TokenExpiry(now, sess.ExpiresAt), ev); err != nil {
		return Tokens{}, err
	}
	return s.tokens(u, sess.ID, tok)
}

// tokens signs a fresh access token for u in session sid, next to refreshToken.
func (s *Service) tokens(u store.User, sid, refreshToken string) (Tokens, error) {
	at, exp, err := s.issuer.Access(tokensSubject(u), sid)
	if err != nil {
		return Tokens{}, err
	}
	s.obs.AccessTokenIssued(at)
	return Tokens{AccessToken: at, ExpiresIn: exp.Sub(s.now()), RefreshToken: refreshToken}, nil
}
