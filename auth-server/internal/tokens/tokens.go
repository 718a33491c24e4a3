// Package tokens mints the auth server's JWTs: access tokens (RFC 9068, typ "at+jwt") for
// users, and short-lived sync tokens (typ "sync+jwt") that authenticate user-sync calls. It
// signs with whatever key its KeySource names as current and knows nothing of HTTP or SQL.
package tokens

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// SyncTokenTTL is the lifetime of a sync token.
const SyncTokenTTL = 2 * time.Minute

// KeySource gives the key to sign with now; the key carries its kid.
type KeySource interface {
	SigningKey() (jose.SigningKey, error)
}

// Issuer signs tokens for one issuer and audience.
type Issuer struct {
	issuer   string
	audience []string
	ttl      time.Duration
	keys     KeySource
	idKeys   IDKeySource // nil: no ID tokens (see WithIDTokenKeys)
	now      func() time.Time
}

// NewIssuer returns an Issuer; ttl is the access-token lifetime.
func NewIssuer(issuer string, audience []string, ttl time.Duration, keys KeySource, now func() time.Time) *Issuer {
	return &Issuer{issuer: issuer, audience: audience, ttl: ttl, keys: keys, now: now}
}

// TTL returns the access-token lifetime.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Subject is who an access token speaks for.
type Subject struct {
	UserID   string
	Username string
	Email    string
	// EmailVerified reaches the email_verified claim (present with email).
	EmailVerified bool
	// Roles reach the token's roles claim; nil means none ([] in the token).
	Roles []string
	// AMR is how the session was authenticated; nil means a password login (["pwd"]) for a
	// token of a session, and none for a client's own token (no session).
	AMR []string
	// ClientID is the client the token is issued to; Scope the scopes it grants.
	ClientID string
	Scope    []string
	// NotBefore, when later than now, is the token's iat: the user's tokens issued before it
	// were revoked, and resource servers compare whole seconds (store.User.RevokeTokens).
	NotBefore time.Time
}

// Access signs an access token (accesstoken.Payload, typ at+jwt) for sub in session sid (empty
// for a client's own token) and returns it with its expiry.
func (i *Issuer) Access(sub Subject, sid string) (string, time.Time, error) {
	p := accesstoken.Payload{
		Issuer: i.issuer, Subject: sub.UserID, Audience: jwt.Audience(i.audience), ID: uuid.NewString(),
		SessionID: sid, ClientID: sub.ClientID, Scope: strings.Join(sub.Scope, " "), Roles: sub.Roles, AMR: sub.AMR,
		PreferredUsername: sub.Username, Email: sub.Email, EmailVerified: sub.EmailVerified,
	}
	if p.Roles == nil {
		p.Roles = []string{}
	}
	if p.AMR == nil && sid != "" {
		p.AMR = []string{accesstoken.AMRPassword}
	}
	now := i.now()
	if now.Before(sub.NotBefore) {
		now = sub.NotBefore
	}
	p.SetTimes(now, i.ttl)
	tok, err := i.sign(accesstoken.Type, p)
	return tok, p.Expiry.Time(), err
}

// syncClaims are the claims of a sync token.
type syncClaims struct {
	jwt.Claims
	BodyHash string `json:"body_sha256"`
}

// Sync signs a token that authenticates one user-sync call carrying body.
func (i *Issuer) Sync(body []byte) (string, error) {
	now := i.now().UTC().Truncate(time.Second)
	c := syncClaims{
		Claims: jwt.Claims{
			Issuer: i.issuer, Subject: "auth-server", Audience: jwt.Audience{syncevent.Audience},
			Expiry: jwt.NewNumericDate(now.Add(SyncTokenTTL)), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: uuid.NewString(),
		},
		BodyHash: syncevent.BodyHash(body),
	}
	return i.sign(syncevent.TokenType, c)
}

func (i *Issuer) sign(typ string, claims any) (string, error) {
	key, err := i.keys.SigningKey()
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	return signWith(key, typ, claims)
}

// signWith signs claims with key, typ in the header.
func signWith(key jose.SigningKey, typ string, claims any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return tok, nil
}

// HS256Key is the KeySource of the HS256 compatibility mode: the shared secret, used as the
// bytes of the string. Its tokens carry no kid (go-jose's symmetric signer writes none, and
// the Python system's had none); verifiers look the secret up without one.
type HS256Key struct{ key jose.SigningKey }

// NewHS256Key returns the KeySource for secret.
func NewHS256Key(secret []byte) HS256Key {
	return HS256Key{key: jose.SigningKey{Algorithm: jose.HS256, Key: secret}}
}

// SigningKey returns the HS256 key.
func (k HS256Key) SigningKey() (jose.SigningKey, error) { return k.key, nil }

// JWKS returns the empty key set: HS256 keys are never published.
func (k HS256Key) JWKS() ([]byte, string) { return []byte(`{"keys":[]}`), `"hs256"` }

// Ready reports true: the secret is always there.
func (k HS256Key) Ready() bool { return true }
