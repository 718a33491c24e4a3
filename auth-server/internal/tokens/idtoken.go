package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// IDTokenType is the typ header of an ID token (OpenID Connect Core 1.0; RFC 8725 §3.11).
const IDTokenType = "JWT"

// DefaultIDTokenAlg is the algorithm of ID tokens unless the client registered another:
// OpenID Connect Discovery requires every provider to support RS256.
const DefaultIDTokenAlg = "RS256"

// ErrNoIDTokenKeys means the Issuer was made without ID-token keys (WithIDTokenKeys).
var ErrNoIDTokenKeys = errors.New("no ID-token signing keys")

// IDKeySource gives the current key of an algorithm, carrying its kid: the key ring, which
// keeps one key lifecycle per algorithm (RS256 for ID tokens beside the access-token
// algorithm's).
type IDKeySource interface {
	SigningKeyFor(alg string) (jose.SigningKey, error)
}

// WithIDTokenKeys returns a copy of i that signs ID tokens with the keys of ks. Access and
// Sync tokens keep the KeySource given to NewIssuer.
func (i *Issuer) WithIDTokenKeys(ks IDKeySource) *Issuer {
	c := *i
	c.idKeys = ks
	return &c
}

// IDTokenClaims is what the caller (the account service) knows of an authentication that an
// ID token reports. The Issuer adds iss, exp and iat; the lifetime is the access-token TTL.
type IDTokenClaims struct {
	Subject   string    // sub: the user's id
	ClientID  string    // aud: the client the token is for
	AuthTime  time.Time // auth_time: when the user authenticated (the login session's start)
	Nonce     string    // nonce: as sent to /authorize; omitted when empty
	AMR       []string  // amr: how the user authenticated; nil gives ["pwd"]
	SessionID string    // sid: the login session
	// Profile adds preferred_username (the profile scope was granted).
	Profile  bool
	Username string
	// Email adds email and email_verified (the email scope was granted).
	Email         bool
	EmailAddress  string
	EmailVerified bool
	// Alg is the algorithm the client registered (--id-token-alg); "" means RS256.
	Alg string
}

// idClaims are the claims of an ID token as serialized.
type idClaims struct {
	jwt.Claims
	AuthTime          *jwt.NumericDate `json:"auth_time,omitempty"`
	Nonce             string           `json:"nonce,omitempty"`
	AMR               []string         `json:"amr"`
	SessionID         string           `json:"sid,omitempty"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Email             *string          `json:"email,omitempty"`
	EmailVerified     *bool            `json:"email_verified,omitempty"`
}

// IDToken signs an ID token (typ JWT) for c with the current key of c.Alg (RS256 when empty),
// whose kid is in the header. It fails with ErrNoIDTokenKeys when the Issuer has no ID-token
// keys and with the key source's error when that algorithm has no current key.
func (i *Issuer) IDToken(c IDTokenClaims) (string, error) {
	if i.idKeys == nil {
		return "", ErrNoIDTokenKeys
	}
	alg := c.Alg
	if alg == "" {
		alg = DefaultIDTokenAlg
	}
	key, err := i.idKeys.SigningKeyFor(alg)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	now := i.now().UTC().Truncate(time.Second)
	p := idClaims{
		Claims: jwt.Claims{
			Issuer: i.issuer, Subject: c.Subject, Audience: jwt.Audience{c.ClientID},
			Expiry: jwt.NewNumericDate(now.Add(i.ttl)), IssuedAt: jwt.NewNumericDate(now),
			ID: uuid.NewString(), // a jti, so that it checks with the verifier as an id_token_hint
		},
		Nonce: c.Nonce, AMR: c.AMR, SessionID: c.SessionID,
	}
	if !c.AuthTime.IsZero() {
		p.AuthTime = jwt.NewNumericDate(c.AuthTime.UTC().Truncate(time.Second))
	}
	if p.AMR == nil {
		p.AMR = []string{accesstoken.AMRPassword}
	}
	if c.Profile {
		p.PreferredUsername = c.Username
	}
	if c.Email && c.EmailAddress != "" {
		p.Email, p.EmailVerified = &c.EmailAddress, &c.EmailVerified
	}
	return signWith(key, IDTokenType, p)
}
