package verifier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
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
	c, err := accesstoken.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.Type, c.KeyID, c.Algorithm = h.Typ, h.Kid, h.Alg
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

// normalizeType lowercases a typ and drops an "application/" prefix (RFC 7515
// §4.1.9), so "application/AT+JWT" equals "at+jwt".
func normalizeType(typ string) string {
	return strings.TrimPrefix(strings.ToLower(typ), "application/")
}

// checkAlg rejects "none" (any casing) and every algorithm not configured. (The end
// of the legacy HS256 window is the key set's: LegacyHS256.)
func (v *Verifier) checkAlg(c *Claims) error {
	switch {
	case strings.EqualFold(c.Algorithm, "none"):
		return fmt.Errorf("%w: alg none", ErrAlgorithm)
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
	// The required claims and the leeway rule are the access token's (accesstoken);
	// sid is required of access tokens, not of sync tokens.
	if err := c.CheckRequired(v.exp.tokenType == DefaultTokenType); err != nil {
		return err
	}
	if err := c.CheckTimes(now, v.leeway); err != nil {
		return err
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
