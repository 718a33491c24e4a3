package account

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700) and OpenID
// Connect's ID tokens (CONTRACT §12, docs/oauth.md).

// CodeTTL is how long an authorization code may be exchanged.
const CodeTTL = 60 * time.Second

// AuthorizeRequest is the parameters of GET /authorize.
type AuthorizeRequest struct {
	ResponseType, ClientID, RedirectURI, Scope, State string
	CodeChallenge, CodeChallengeMethod, Nonce, Prompt string
}

// AuthorizeError is an error of an authorization request (RFC 6749 §4.1.2.1): Code is its
// error code. Without Redirect (an unknown client, a redirect URI not registered) it must be
// shown on a page and never sent to the redirect URI.
type AuthorizeError struct {
	Code, Description string
	Redirect          bool
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// Authorization is a checked authorization request.
type Authorization struct {
	Client                              clients.Client
	RedirectURI                         string
	Scope                               []string
	State, Nonce, CodeChallenge, Prompt string
}

// Bounds of the request's free-form parameters.
const (
	maxStateLen = 1024
	maxNonceLen = 512
)

// CheckAuthorization checks an authorization request: the client and redirect URI first
// (their errors are not redirectable), then the rest (redirectable *AuthorizeError).
func (s *Service) CheckAuthorization(ctx context.Context, in AuthorizeRequest) (Authorization, error) {
	page := func(code, desc string) error { return &AuthorizeError{Code: code, Description: desc} }
	if in.ClientID == "" {
		return Authorization{}, page("invalid_request", "the request names no client (client_id)")
	}
	sc, err := s.Client(ctx, in.ClientID)
	if errors.Is(err, ErrClientNotFound) {
		return Authorization{}, page("invalid_client", "the application that sent you here is not registered")
	}
	if err != nil {
		return Authorization{}, err
	}
	c := sc.Client
	redirect := in.RedirectURI
	switch {
	case redirect == "" && len(c.RedirectURIs) == 1:
		redirect = c.RedirectURIs[0]
	case redirect == "":
		return Authorization{}, page("invalid_request", "the request names no redirect_uri, and the application has several")
	case !slices.Contains(c.RedirectURIs, redirect):
		return Authorization{}, page("invalid_request", "the redirect_uri is not registered for this application")
	}
	a := Authorization{Client: c, RedirectURI: redirect, State: in.State, Nonce: in.Nonce, CodeChallenge: in.CodeChallenge, Prompt: in.Prompt}
	fail := func(code, desc string) (Authorization, error) {
		return a, &AuthorizeError{Code: code, Description: desc, Redirect: true}
	}
	switch {
	case len(in.State) > maxStateLen:
		a.State = "" // not echoed
		return fail("invalid_request", fmt.Sprintf("state is longer than %d characters", maxStateLen))
	case in.ResponseType != "code":
		return fail("unsupported_response_type", "only response_type=code is supported")
	case !c.HasGrant(clients.GrantAuthorizationCode):
		return fail("unauthorized_client", "this client may not use the authorization code grant")
	case in.CodeChallenge == "":
		return fail("invalid_request", "code_challenge is required (PKCE, S256)")
	case in.CodeChallengeMethod != "S256":
		return fail("invalid_request", "code_challenge_method must be S256 (plain is not allowed)")
	case !validPKCE(in.CodeChallenge) || len(in.CodeChallenge) != 43:
		return fail("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
	case len(in.Nonce) > maxNonceLen:
		return fail("invalid_request", fmt.Sprintf("nonce is longer than %d characters", maxNonceLen))
	case in.Prompt != "" && in.Prompt != "login" && in.Prompt != "none":
		return fail("invalid_request", "prompt must be login or none")
	}
	requested, err := clients.ParseScope(in.Scope)
	if err == nil {
		a.Scope, err = c.Grant(requested)
	}
	if err != nil {
		return fail("invalid_scope", strings.TrimPrefix(err.Error(), clients.ErrInvalidScope.Error()+": "))
	}
	if s.idTokens == nil && slices.Contains(a.Scope, "openid") { // no keys to sign ID tokens with
		if slices.Contains(requested, "openid") {
			return fail("invalid_scope", "openid needs ID tokens, and this server has no keys to sign them (ALGORITHM=HS256 on PostgreSQL without KEY_ENCRYPTION_KEY): ask without openid")
		}
		a.Scope = slices.DeleteFunc(a.Scope, func(sc string) bool { return sc == "openid" }) // the client's defaults, granted without it
	}
	return a, nil
}

// validPKCE reports whether v is made of RFC 7636's unreserved characters, 43 to 128 of them.
func validPKCE(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
			return false
		}
	}
	return true
}

// IssueCode returns a code for a (checked) in the login session ls: sealed, nothing stored.
func (s *Service) IssueCode(a Authorization, ls store.LoginSession) (string, error) {
	now := s.now().UTC()
	return s.codes.Seal(store.AuthCode{ClientID: a.Client.ID, RedirectURI: a.RedirectURI, UserID: ls.UserID,
		LoginSessionID: ls.ID, Scope: a.Scope, CodeChallenge: a.CodeChallenge, Nonce: a.Nonce, AuthTime: ls.AuthTime, AMR: ls.AMR,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL)})
}

// IssueCodeInSession returns a code for a (checked) in the live login session of a browser's
// cookie value; ErrUnauthenticated when the cookie names none. It reads the session, and
// writes nothing.
func (s *Service) IssueCodeInSession(ctx context.Context, a Authorization, cookie string) (string, error) {
	if cookie == "" || len(cookie) > maxRefreshTokenLen {
		return "", ErrUnauthenticated
	}
	ls, err := s.store.LoginSessionForCode(ctx, refresh.Hash(cookie), s.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrUnauthenticated
	case err != nil:
		return "", err
	}
	return s.IssueCode(a, ls)
}

// CodeInput is a token request with grant_type=authorization_code.
type CodeInput struct {
	Client       ClientAuth
	Code         string
	RedirectURI  string
	CodeVerifier string
}

// ErrInvalidAuthCode: an authorization code that is unknown, expired, used, of another client or
// redirect URI, or whose verifier does not match (all invalid_grant).
var ErrInvalidAuthCode = errors.New("invalid authorization code")

// ExchangeCode redeems an authorization code (RFC 6749 §4.1.3): a session starts for the
// code's client and scope, with an ID token when openid was granted. A code presented again
// revokes the session its first exchange started.
func (s *Service) ExchangeCode(ctx context.Context, in CodeInput, c Client) (Tokens, error) {
	client, err := s.authenticateClient(ctx, in.Client)
	if err != nil {
		return Tokens{}, err
	}
	if !client.HasGrant(clients.GrantAuthorizationCode) {
		return Tokens{}, ErrUnauthorizedClient
	}
	if in.Code == "" {
		return Tokens{}, fmt.Errorf("%w: code is missing", ErrInvalidAuthCode)
	}
	sealed, err := s.codes.Open(in.Code)
	if err != nil {
		return Tokens{}, fmt.Errorf("%w: unknown", ErrInvalidAuthCode)
	}
	now := s.now().UTC()
	tok, hash, err := refresh.NewToken()
	if err != nil {
		return Tokens{}, err
	}
	sid := uuid.NewString()
	code, u, err := s.store.ExchangeCode(ctx, sealed, now, func(code store.AuthCode) (store.CodeExchange, error) {
		switch {
		case code.ClientID != client.ID:
			return store.CodeExchange{}, fmt.Errorf("%w: issued to another client", ErrInvalidAuthCode)
		case !now.Before(code.ExpiresAt):
			return store.CodeExchange{}, fmt.Errorf("%w: expired", ErrInvalidAuthCode)
		case in.RedirectURI != code.RedirectURI:
			return store.CodeExchange{}, fmt.Errorf("%w: redirect_uri differs from the authorization request's", ErrInvalidAuthCode)
		case !pkceMatches(in.CodeVerifier, code.CodeChallenge):
			return store.CodeExchange{}, fmt.Errorf("%w: code_verifier does not match the code_challenge", ErrInvalidAuthCode)
		}
		sess := store.Session{ID: sid, UserID: code.UserID, CreatedAt: now, LastUsedAt: now, ExpiresAt: s.cfg.Refresh.SessionExpiry(now),
			UserAgent: c.UserAgent, IP: c.IP, ClientID: client.ID, Scope: code.Scope, AMR: code.AMR}
		ev := audit(now, store.AuditLoginSuccess, code.UserID, sid, c)
		ev.Detail = "authorization code of client " + client.ID
		return store.CodeExchange{Session: sess, TokenHash: hash, TokenExpires: s.cfg.Refresh.TokenExpiry(now, sess.ExpiresAt), Audit: ev}, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Tokens{}, fmt.Errorf("%w: unknown", ErrInvalidAuthCode)
	case errors.Is(err, store.ErrCodeReused):
		s.signalSync() // the session it started was revoked
		s.log.Warn("authorization code used twice: its session revoked", "client_id", client.ID, "session_id", code.SessionID, "ip", c.IP)
		return Tokens{}, fmt.Errorf("%w: already used", ErrInvalidAuthCode)
	case err != nil:
		return Tokens{}, err
	}
	if u.Disabled() {
		return Tokens{}, ErrAccountDisabled
	}
	sub := userSubject(u, client.ID, code.Scope)
	sub.AMR = sessionAMR(code.AMR) // how the browser's login authenticated
	t, err := s.tokens(sub, sid, tok)
	if err != nil {
		return Tokens{}, err
	}
	if slices.Contains(code.Scope, "openid") {
		if t.IDToken, err = s.idToken(u, client, code.Scope, sid, code.Nonce, code.AuthTime, sub.AMR); err != nil {
			return Tokens{}, err
		}
	}
	return t, nil
}

// pkceMatches reports whether verifier's S256 challenge is challenge (RFC 7636 §4.6).
func pkceMatches(verifier, challenge string) bool {
	if !validPKCE(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// IDClaims is what an ID token says (OpenID Connect Core §2): who, to which client, in which
// session, authenticated when and how, and the profile and email claims its scopes grant.
type IDClaims struct {
	Subject, ClientID, SessionID, Nonce string
	AuthTime                            time.Time
	AMR                                 []string
	// Profile: preferred_username; Email: email and email_verified (with their scopes).
	Profile, Email bool
	Username       string
	EmailAddress   string
	EmailVerified  bool
	// Alg is the client's registered ID-token algorithm ("" for the default, RS256).
	Alg string
}

// IDTokenSigner signs ID tokens (typ JWT) with the key set's ID-token key for the algorithm.
type IDTokenSigner interface {
	SignIDToken(c IDClaims) (string, error)
}

// idToken signs the ID token of u's session sid for client, with the algorithm it registered.
func (s *Service) idToken(u store.User, client clients.Client, scope []string, sid, nonce string, authTime time.Time, amr []string) (string, error) {
	if s.idTokens == nil {
		return "", errors.New("no ID-token signer configured")
	}
	c := IDClaims{Subject: u.ID, ClientID: client.ID, SessionID: sid, Nonce: nonce, AuthTime: authTime, AMR: amr,
		Profile: slices.Contains(scope, "profile"), Email: slices.Contains(scope, "email"),
		Username: u.Username, EmailAddress: u.Email, EmailVerified: u.EmailVerified, Alg: client.IDTokenAlg}
	return s.idTokens.SignIDToken(c)
}

// UserInfo is GET /userinfo (OpenID Connect Core §5.3): the claims of p's user that its
// token's scopes grant. A token without openid is ErrInsufficientScope.
func (s *Service) UserInfo(ctx context.Context, p Principal) (IDClaims, error) {
	if !slices.Contains(p.Scope, "openid") {
		return IDClaims{}, &ScopeError{Scope: "openid"}
	}
	u, err := s.User(ctx, p)
	if err != nil {
		return IDClaims{}, err
	}
	return IDClaims{Subject: u.ID, Profile: slices.Contains(p.Scope, "profile"), Email: slices.Contains(p.Scope, "email"),
		Username: u.Username, EmailAddress: u.Email, EmailVerified: u.EmailVerified}, nil
}

// LoginSessionFrom returns the live login session of a browser's cookie value.
func (s *Service) LoginSessionFrom(ctx context.Context, cookie string) (store.LoginSession, store.User, error) {
	if cookie == "" || len(cookie) > maxRefreshTokenLen {
		return store.LoginSession{}, store.User{}, ErrUnauthenticated
	}
	ls, u, err := s.store.LoginSessionByCookie(ctx, refresh.Hash(cookie), s.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return store.LoginSession{}, store.User{}, ErrUnauthenticated
	}
	return ls, u, err
}

// EndEverySession ends every session of p's user (the account page's "log out everywhere"),
// this browser's included.
func (s *Service) EndEverySession(ctx context.Context, p Principal, c Client) error {
	now := s.now().UTC()
	_, err := s.store.RevokeUserSessions(ctx, p.UserID, "", now, store.RevokeLogoutAll, audit(now, store.AuditLogoutAll, p.UserID, p.SessionID, c))
	return s.synced(err)
}

// IDTokenVerifier checks an ID token of this server (an id_token_hint) and returns the client
// it was issued to.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, token string) (clientID string, err error)
}

// IDTokenClient returns the client of an id_token_hint that this server signed and that has
// not expired; false for anything else.
func (s *Service) IDTokenClient(ctx context.Context, hint string) (string, bool) {
	if hint == "" || s.idVerifier == nil {
		return "", false
	}
	id, err := s.idVerifier.VerifyIDToken(ctx, hint)
	return id, err == nil && id != ""
}

// PostLogoutURIRegistered reports whether uri is one of the client's registered post-logout
// redirect URIs (exact match).
func (s *Service) PostLogoutURIRegistered(ctx context.Context, clientID, uri string) bool {
	c, err := s.Client(ctx, clientID)
	return err == nil && slices.Contains(c.PostLogoutURIs, uri)
}
