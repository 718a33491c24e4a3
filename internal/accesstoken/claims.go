package accesstoken

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Claims are the claims of a verified token and the header fields checked (Type, KeyID,
// Algorithm). The JSON tags use the claim names; times marshal as RFC 3339 strings.
type Claims struct {
	Issuer            string    `json:"iss"`
	Subject           string    `json:"sub"`
	Audience          []string  `json:"aud"`
	Expiry            time.Time `json:"exp"`
	IssuedAt          time.Time `json:"iat"`
	NotBefore         time.Time `json:"nbf,omitzero"` // zero when the token has no nbf
	ID                string    `json:"jti"`
	SessionID         string    `json:"sid,omitempty"`
	ClientID          string    `json:"client_id,omitempty"`
	Scope             string    `json:"scope,omitempty"` // space-separated; see HasScope
	Roles             []string  `json:"roles"`           // [] when the token has none (Decode)
	AMR               []string  `json:"amr,omitempty"`
	PreferredUsername string    `json:"preferred_username,omitempty"`
	Email             string    `json:"email,omitempty"`
	EmailVerified     bool      `json:"email_verified"`
	Type              string    `json:"typ"` // header typ as sent
	KeyID             string    `json:"kid,omitempty"`
	Algorithm         string    `json:"alg"`
}

// Clone returns a deep copy of c. Its slices share one new backing array (one allocation),
// and a nil slice stays nil.
func (c *Claims) Clone() *Claims {
	out := *c
	buf := make([]string, 0, len(c.Audience)+len(c.Roles)+len(c.AMR))
	out.Audience, buf = cloneInto(c.Audience, buf)
	out.Roles, buf = cloneInto(c.Roles, buf)
	out.AMR, _ = cloneInto(c.AMR, buf)
	return &out
}

// cloneInto appends s to buf, which has room for it, and returns the copy (capped, so an
// append to it cannot overwrite the next) and buf.
func cloneInto(s, buf []string) ([]string, []string) {
	if s == nil {
		return nil, buf
	}
	start := len(buf)
	buf = append(buf, s...)
	return buf[start:len(buf):len(buf)], buf
}

// HasScope reports whether the space-separated scope claim contains scope.
func (c *Claims) HasScope(scope string) bool {
	if scope == "" {
		return false
	}
	for s := range strings.FieldsSeq(c.Scope) {
		if s == scope {
			return true
		}
	}
	return false
}

// HasRole reports whether the roles claim contains role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// HasAMR reports whether the amr claim (RFC 8176: how the user authenticated, e.g. "pwd",
// "otp") contains method.
func (c *Claims) HasAMR(method string) bool { return slices.Contains(c.AMR, method) }

// IsClientToken reports whether c is a client's own token (client_credentials): its sub is
// its client_id, and it speaks for no user.
func (c *Claims) IsClientToken() bool { return c.ClientID != "" && c.Subject == c.ClientID }

// CheckRequired returns an error wrapping ErrMissingClaim, naming the claim, when c lacks one
// that every token of the auth server carries: iss, sub, aud, exp, iat and jti, and sid when
// requireSID (user access tokens; sync tokens have none) unless the token is a client's own
// (client_credentials: sub is its client_id, and there is no session).
func (c *Claims) CheckRequired(requireSID bool) error {
	var missing string
	switch {
	case c.Issuer == "":
		missing = "iss"
	case c.Subject == "":
		missing = "sub"
	case len(c.Audience) == 0:
		missing = "aud"
	case c.Expiry.IsZero():
		missing = "exp"
	case c.IssuedAt.IsZero():
		missing = "iat"
	case c.ID == "":
		missing = "jti"
	case requireSID && c.SessionID == "" && !c.IsClientToken():
		missing = "sid"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrMissingClaim, missing)
}

// CheckTimes applies the leeway rule at now: the token is refused (ErrExpired) from exp plus
// leeway on, and (ErrNotYetValid) while nbf or iat is more than leeway ahead of now.
func (c *Claims) CheckTimes(now time.Time, leeway time.Duration) error {
	if !now.Before(c.Expiry.Add(leeway)) {
		return fmt.Errorf("%w: exp %s", ErrExpired, c.Expiry.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: nbf %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	if now.Add(leeway).Before(c.IssuedAt) {
		return fmt.Errorf("%w: iat %s is in the future", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}
