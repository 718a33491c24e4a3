package main

import (
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
)

// idTokenSigner signs OpenID Connect ID tokens (typ JWT) with the key set's current key.
type idTokenSigner struct {
	issuer string
	ttl    time.Duration
	keys   tokens.KeySource
	now    func() time.Time
}

// idTokenClaims are the members of an ID token (OpenID Connect Core §2, §5.1).
type idTokenClaims struct {
	jwt.Claims
	AuthTime          int64    `json:"auth_time,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	AMR               []string `json:"amr,omitempty"`
	SessionID         string   `json:"sid,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
}

// SignIDToken signs the ID token c describes (account.IDTokenSigner).
func (s idTokenSigner) SignIDToken(c account.IDClaims) (string, error) {
	now := s.now().UTC().Truncate(time.Second)
	cl := idTokenClaims{
		Claims: jwt.Claims{Issuer: s.issuer, Subject: c.Subject, Audience: jwt.Audience{c.ClientID}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(s.ttl))},
		Nonce: c.Nonce, AMR: c.AMR, SessionID: c.SessionID,
	}
	if !c.AuthTime.IsZero() {
		cl.AuthTime = c.AuthTime.Unix()
	}
	if len(cl.AMR) == 0 {
		cl.AMR = []string{"pwd"}
	}
	if c.Profile {
		cl.PreferredUsername = c.Username
	}
	if c.Email {
		v := c.EmailVerified
		cl.Email, cl.EmailVerified = c.EmailAddress, &v
	}
	key, err := s.keys.SigningKey()
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	return jwt.Signed(signer).Claims(cl).Serialize()
}
