package tokens

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// ErrInvalid is wrapped by every reason an access token is refused.
var ErrInvalid = errors.New("invalid access token")

// VerificationKeys finds the public key (or HS256 secret) for a kid.
type VerificationKeys interface {
	VerificationKey(kid string) (jose.JSONWebKey, bool)
}

// Claims are the verified claims of an access token.
type Claims struct {
	UserID    string
	SessionID string
	Username  string
	Email     string
	Expiry    time.Time
}

// Verify checks an access token of this issuer, as the auth server's own endpoints take them:
// the pinned algorithm, a published kid, typ at+jwt, issuer, audience and time.
func (i *Issuer) Verify(token string, keys VerificationKeys, alg string) (Claims, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, accesstoken.Type) {
		return Claims{}, fmt.Errorf("%w: typ %q", ErrInvalid, typ)
	}
	key, ok := keys.VerificationKey(h.KeyID)
	if !ok {
		return Claims{}, fmt.Errorf("%w: unknown kid", ErrInvalid)
	}
	var c accesstoken.Payload
	if err := tok.Claims(key.Key, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	exp := jwt.Expected{Issuer: i.issuer, AnyAudience: jwt.Audience(i.audience), Time: i.now()}
	jc := jwt.Claims{Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, Expiry: c.Expiry, NotBefore: c.NotBefore, IssuedAt: c.IssuedAt}
	if err := jc.ValidateWithLeeway(exp, 30*time.Second); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Subject == "" || c.SessionID == "" {
		return Claims{}, fmt.Errorf("%w: missing sub or sid", ErrInvalid)
	}
	return Claims{UserID: c.Subject, SessionID: c.SessionID, Username: c.PreferredUsername, Email: c.Email, Expiry: c.Expiry.Time()}, nil
}

// VerificationKey returns the secret, whatever the kid: HS256 tokens carry none (go-jose's
// symmetric signer writes no kid header), nor did the Python system's.
func (k HS256Key) VerificationKey(string) (jose.JSONWebKey, bool) {
	return k.key.Key.(jose.JSONWebKey), true
}

// JWKS returns the empty key set: HS256 keys are never published.
func (k HS256Key) JWKS() ([]byte, string) { return []byte(`{"keys":[]}`), `"hs256"` }

// Ready reports true: the secret is always there.
func (k HS256Key) Ready() bool { return true }
