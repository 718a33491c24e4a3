// Package accesstoken defines the auth server's access token once (CONTRACT.md §3 and §9, RFC
// 9068): its claims as signed (Payload) and as verified (Claims), its typ, the claims every
// token must carry, and the leeway rule of its times. The issuer, the auth server's Bearer
// check, the public verifier (resource-server/verifier, which re-exports Claims) and the test
// and benchmark minters all use it, so the token has one shape. It knows nothing of keys,
// signatures or HTTP.
package accesstoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// Type is the typ header of access tokens (RFC 9068 §2.1).
const Type = "at+jwt"

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when none is configured
// (CLOCK_LEEWAY).
const DefaultLeeway = 30 * time.Second

// AMRPassword is the amr value of a password login (RFC 8176).
const AMRPassword = "pwd"

// Outcomes of the checks of this package, wrapped by the errors they return. The verifier
// re-exports them under the same names.
var (
	// ErrExpired: exp is in the past, beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrMissingClaim: a required claim is absent or empty.
	ErrMissingClaim = errors.New("missing required claim")
)

// Payload is the claims set of an access token as it is signed. Its JSON always carries
// roles (an array, [] when there are none) and, with email, email_verified; the other
// optional members are left out when empty.
type Payload struct {
	Issuer            string           `json:"iss"`
	Subject           string           `json:"sub"`
	Audience          jwt.Audience     `json:"aud"`
	Expiry            *jwt.NumericDate `json:"exp"`
	IssuedAt          *jwt.NumericDate `json:"iat"`
	NotBefore         *jwt.NumericDate `json:"nbf,omitempty"`
	ID                string           `json:"jti"`
	SessionID         string           `json:"sid,omitempty"`
	ClientID          string           `json:"client_id,omitempty"`
	Scope             string           `json:"scope,omitempty"` // space-separated (RFC 6749 §3.3)
	Roles             []string         `json:"roles"`
	AMR               []string         `json:"amr,omitempty"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Email             string           `json:"email,omitempty"`
	EmailVerified     bool             `json:"email_verified,omitempty"`
}

// SetTimes sets iat and nbf to now and exp to now+ttl, in whole seconds.
func (p *Payload) SetTimes(now time.Time, ttl time.Duration) {
	now = now.UTC().Truncate(time.Second)
	p.IssuedAt, p.NotBefore, p.Expiry = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(ttl))
}

// MarshalJSON encodes p with roles always present and email_verified present with email.
func (p Payload) MarshalJSON() ([]byte, error) {
	type plain Payload // no methods: no recursion
	out := struct {
		plain
		Roles         []string `json:"roles"`
		EmailVerified *bool    `json:"email_verified,omitempty"`
	}{plain: plain(p), Roles: p.Roles}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if p.Email != "" {
		out.EmailVerified = &p.EmailVerified
	}
	return json.Marshal(out)
}

// Decode decodes a token's payload (JSON, not yet verified) into Claims. aud may be a string
// or an array, times integer or fractional seconds; Roles is [] when the token has none. The
// header fields of Claims are left for the caller.
func Decode(payload []byte) (*Claims, error) {
	var p Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	roles := p.Roles
	if roles == nil {
		roles = []string{} // zero-length: no allocation
	}
	return &Claims{
		Issuer: p.Issuer, Subject: p.Subject, Audience: []string(p.Audience),
		Expiry: numericTime(p.Expiry), IssuedAt: numericTime(p.IssuedAt), NotBefore: numericTime(p.NotBefore),
		ID: p.ID, SessionID: p.SessionID, ClientID: p.ClientID, Scope: p.Scope, Roles: roles, AMR: p.AMR,
		PreferredUsername: p.PreferredUsername, Email: p.Email, EmailVerified: p.EmailVerified,
	}, nil
}

func numericTime(n *jwt.NumericDate) time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.Time().UTC()
}
