package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// handleLogin takes form or JSON {username, password}; the username may be the email.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	if gt := p.Get("grant_type"); gt != "" && gt != "password" {
		return errBadRequest("unsupported_grant_type", "grant_type must be password")
	}
	return s.passwordGrant(w, r, p)
}

// handleToken is the RFC 6749 token endpoint: password and refresh_token grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	p, err := decodeParams(r)
	if err != nil {
		return err
	}
	switch p.Get("grant_type") {
	case "password":
		return s.passwordGrant(w, r, p)
	case "refresh_token":
		return s.refreshGrant(w, r, p.Get("refresh_token"))
	case "":
		return errBadRequest("invalid_request", "grant_type is required")
	default:
		return errBadRequest("unsupported_grant_type", "grant_type must be password or refresh_token")
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, p url.Values) error {
	login, pw := strings.TrimSpace(p.Get("username")), p.Get("password")
	if login == "" || pw == "" {
		return errBadRequest("invalid_request", "username and password are required")
	}
	if len(login) > 254 || len(pw) > 1024 || !utf8.ValidString(login) || strings.ContainsRune(login, 0) {
		// No such user can exist (names and emails are validated at signup): the same
		// answer, and the same work, as a wrong password, without storing the name anywhere.
		s.hasher.VerifyDummy(r.Context(), pw)
		return errInvalidCredentials
	}
	ctx := r.Context()
	acctKey, ipKey := "account:"+strings.ToLower(login), "address:"+throttleAddress(r)
	wait, blocked, err := s.throttled(r, acctKey, ipKey)
	if err != nil {
		return err
	}
	if blocked {
		s.metrics.login("throttled")
		_ = s.store.Audit(ctx, store.AuditEvent{At: s.now(), Event: store.AuditLoginThrottled, IP: clientIP(r), Detail: login})
		return errTooManyRequests(wait)
	}
	u, err := s.store.UserByLogin(ctx, login)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.hasher.VerifyDummy(ctx, pw) // the same work as a wrong password
		return s.loginFailed(r, "", login, acctKey, ipKey)
	case err != nil:
		return err
	}
	ok, rehash, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		return s.loginFailed(r, u.ID, login, acctKey, ipKey)
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, pw); err == nil {
			if err := s.store.SetPasswordHash(ctx, u.ID, h); err != nil {
				s.log.Warn("rehash failed", "user_id", u.ID, "err", err)
			}
		}
	}
	if err := s.store.ClearThrottle(ctx, acctKey); err != nil {
		s.log.Warn("clear throttle failed", "err", err)
	}
	tr, err := s.startSession(r, u, store.AuditLoginSuccess)
	if err != nil {
		return err
	}
	s.metrics.login("success")
	noStore(w)
	encode(w, http.StatusOK, tr)
	return nil
}

// throttled reports whether the account or the client address is blocked now.
func (s *Server) throttled(r *http.Request, acctKey, ipKey string) (time.Duration, bool, error) {
	acct, err := s.store.ThrottleCounter(r.Context(), acctKey)
	if err != nil {
		return 0, false, err
	}
	addr, err := s.store.ThrottleCounter(r.Context(), ipKey)
	if err != nil {
		return 0, false, err
	}
	wait, blocked := s.cfg.Throttle.Check(acct, addr, s.now())
	return wait, blocked, nil
}

func (s *Server) loginFailed(r *http.Request, userID, login, acctKey, ipKey string) error {
	now := s.now()
	err := s.store.RecordFailure(r.Context(), func(key string, c throttle.Counter) throttle.Counter {
		if key == acctKey {
			return s.cfg.Throttle.Account.Fail(c, now)
		}
		return s.cfg.Throttle.Address.Fail(c, now)
	}, acctKey, ipKey)
	if err != nil {
		return err
	}
	s.metrics.login("failure")
	_ = s.store.Audit(r.Context(), store.AuditEvent{At: now, Event: store.AuditLoginFailure, UserID: userID, IP: clientIP(r), Detail: login})
	return errInvalidCredentials
}

// startSession begins a refresh session for u and returns the token response.
func (s *Server) startSession(r *http.Request, u store.User, event string) (tokenResponse, error) {
	now := s.now().UTC()
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return tokenResponse{}, err
	}
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: s.cfg.Refresh.SessionExpiry(now), UserAgent: userAgent(r), IP: clientIP(r)}
	audit := store.AuditEvent{At: now, Event: event, UserID: u.ID, SessionID: sess.ID, IP: sess.IP}
	if err := s.store.CreateSession(r.Context(), sess, hash, s.cfg.Refresh.TokenExpiry(now, sess.ExpiresAt), audit); err != nil {
		return tokenResponse{}, err
	}
	return s.tokenResponse(u, sess.ID, tok)
}

// tokenResponse signs a fresh access token for u in session sid next to refreshToken.
func (s *Server) tokenResponse(u store.User, sid, refreshToken string) (tokenResponse, error) {
	at, exp, err := s.issuer.Access(tokens.Subject{UserID: u.ID, Username: u.Username, Email: u.Email}, sid)
	if err != nil {
		return tokenResponse{}, err
	}
	s.metrics.tokenIssued(at)
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(exp.Sub(s.now()).Round(1e9).Seconds()), RefreshToken: refreshToken}, nil
}
