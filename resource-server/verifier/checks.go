package verifier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// MaxTokenSize is the longest token Verify parses; longer ones are rejected
// with ErrMalformed before any decoding.
const MaxTokenSize = 8 << 10

// parsedToken is the result of decoding a token WITHOUT verifying it. Its claims
// may only be used to reject a token, never to accept one, until the signature
// over payload has been verified.
type parsedToken struct {
	claims  *Claims
	payload []byte
}

// rawHeader is the JOSE header. The RawMessage fields exist only to detect
// headers that name a key or demand extensions: any of them rejects the token.
type rawHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	JWK  json.RawMessage `json:"jwk"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	X5C  json.RawMessage `json:"x5c"`
	Crit json.RawMessage `json:"crit"`
}

// rawClaims is the payload, using go-jose's types for aud (string or array) and
// NumericDate (bounded, integer or float seconds).
type rawClaims struct {
	Issuer            string           `json:"iss"`
	Subject           string           `json:"sub"`
	Audience          jwt.Audience     `json:"aud"`
	Expiry            *jwt.NumericDate `json:"exp"`
	NotBefore         *jwt.NumericDate `json:"nbf"`
	IssuedAt          *jwt.NumericDate `json:"iat"`
	ID                string           `json:"jti"`
	SessionID         string           `json:"sid"`
	PreferredUsername string           `json:"preferred_username"`
	Email             string           `json:"email"`
}

// parseUnverified decodes the compact JWS without checking its signature. It
// accepts only the base64url alphabet and two dots, canonical (strict) base64,
// JSON header and payload, and no jwk, jku, x5u, x5c or crit header.
func parseUnverified(token string) (*parsedToken, error) {
	if !compactCharset(token) {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding.Strict()
	hb, err := enc.DecodeString(h64)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	if _, err := enc.DecodeString(s64); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	var h rawHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if h.JWK != nil || h.JKU != nil || h.X5U != nil || h.X5C != nil || h.Crit != nil {
		return nil, fmt.Errorf("%w: header carries jwk, jku, x5u, x5c or crit", ErrAlgorithm)
	}
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	c := &Claims{
		Issuer: rc.Issuer, Subject: rc.Subject, Audience: []string(rc.Audience),
		Expiry: numericTime(rc.Expiry), IssuedAt: numericTime(rc.IssuedAt),
		NotBefore: numericTime(rc.NotBefore), ID: rc.ID, SessionID: rc.SessionID,
		PreferredUsername: rc.PreferredUsername, Email: rc.Email,
		Type: h.Typ, KeyID: h.Kid, Algorithm: h.Alg,
	}
	return &parsedToken{claims: c, payload: payload}, nil
}

// compactCharset reports whether s is three base64url segments
// separated by exactly two dots. base64 decoders skip '\r' and '\n'; rejecting
// every byte outside the alphabet keeps one token one string.
func compactCharset(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == '.':
			dots++
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return dots == 2
}

func numericTime(n *jwt.NumericDate) time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.Time().UTC()
}

// normalizeType lowercases a typ and drops an "application/" prefix (RFC 7515
// §4.1.9), so "application/AT+JWT" equals "at+jwt".
func normalizeType(typ string) string {
	return strings.TrimPrefix(strings.ToLower(typ), "application/")
}

// checkAlg rejects "none" (any casing) and every algorithm not configured.
func (v *Verifier) checkAlg(c *Claims, now time.Time) error {
	switch {
	case strings.EqualFold(c.Algorithm, "none"):
		return fmt.Errorf("%w: alg none", ErrAlgorithm)
	case c.Algorithm == HS256:
		if !v.hs256Allowed(now) {
			return fmt.Errorf("%w: HS256 not allowed", ErrAlgorithm)
		}
	case !slices.Contains(v.algs, c.Algorithm):
		return fmt.Errorf("%w: alg %.16q not configured", ErrAlgorithm, c.Algorithm)
	}
	return nil
}

// checkClaims applies v's expectations and the time checks to c. It runs on
// untrusted claims (to reject early) and on cached, verified ones.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	if normalizeType(c.Type) != v.exp.tokenType {
		return fmt.Errorf("%w: typ %.32q", ErrTokenType, c.Type)
	}
	if err := v.checkRequired(c); err != nil {
		return err
	}
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return fmt.Errorf("%w: exp %s", ErrExpired, c.Expiry.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: nbf %s", ErrNotYetValid, c.NotBefore.Format(time.RFC3339))
	}
	if now.Add(v.leeway).Before(c.IssuedAt) {
		return fmt.Errorf("%w: iat %s is in the future", ErrNotYetValid, c.IssuedAt.Format(time.RFC3339))
	}
	if !v.exp.skipIssuer && c.Issuer != v.exp.issuer {
		return fmt.Errorf("%w: %.64q", ErrIssuer, c.Issuer)
	}
	if !v.exp.skipAud && !slices.ContainsFunc(c.Audience, func(a string) bool {
		return slices.Contains(v.exp.audience, a)
	}) {
		return fmt.Errorf("%w: none of the token's audiences is expected", ErrAudience)
	}
	return nil
}

func (v *Verifier) checkRequired(c *Claims) error {
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
	case c.SessionID == "" && v.exp.tokenType == DefaultTokenType:
		missing = "sid"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrMissingClaim, missing)
}
