package verifier

import (
	"errors"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// Sentinel errors returned (wrapped) by Verify. Test for them with errors.Is; the
// wrapping text adds detail for logs but is not meant for clients. The middleware
// sends only the short, fixed description that Description returns.
var (
	// ErrMissingToken: no token was presented (empty string, or no Bearer
	// Authorization header).
	ErrMissingToken = errors.New("missing bearer token")
	// ErrMalformed: the token is not a compact JWS of at most 8 KiB with
	// base64url-encoded JSON header and payload, or a claim has the wrong type.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: the header alg is "none", not configured, or differs from the
	// alg of the key named by kid; or the header carries jwk, jku, x5u, x5c or crit.
	ErrAlgorithm = errors.New("algorithm or header not allowed")
	// ErrUnknownKey: the kid is missing (but for HS256), too long, or not in the key set, even
	// after the refresh it was allowed to trigger.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("invalid signature")
	// ErrExpired: exp is in the past, beyond the leeway (accesstoken.ErrExpired).
	ErrExpired = accesstoken.ErrExpired
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway
	// (accesstoken.ErrNotYetValid).
	ErrNotYetValid = accesstoken.ErrNotYetValid
	// ErrIssuer: iss differs from Config.Issuer.
	ErrIssuer = errors.New("unexpected issuer")
	// ErrAudience: aud contains none of the expected audiences.
	ErrAudience = errors.New("unexpected audience")
	// ErrTokenType: the header typ differs from the expected token type.
	ErrTokenType = errors.New("unexpected token type")
	// ErrMissingClaim: a required claim (iss, sub, aud, exp, iat, jti, and sid for
	// access tokens) is absent or empty (accesstoken.ErrMissingClaim).
	ErrMissingClaim = accesstoken.ErrMissingClaim
	// ErrKeysUnavailable: the key set has never been loaded (the JWKS was
	// unreachable so far), or the caller's context ended while waiting for a refresh.
	ErrKeysUnavailable = errors.New("signing keys unavailable")
	// ErrRevoked: the token verified, but its session ended or its user's tokens were
	// revoked since it was issued (Config.Revocations).
	ErrRevoked = errors.New("token revoked")
	// ErrConfig: New was given an invalid Config.
	ErrConfig = errors.New("invalid verifier config")
)

// Description returns a short, fixed, client-safe description of a Verify error:
// the text of the sentinel it wraps, or "invalid token" for anything else. It
// never echoes content taken from the token.
func Description(err error) string {
	outcomes := [...]error{
		ErrMissingToken, ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature,
		ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience, ErrTokenType,
		ErrMissingClaim, ErrKeysUnavailable, ErrRevoked,
	}
	for _, o := range outcomes {
		if errors.Is(err, o) {
			return o.Error()
		}
	}
	return "invalid token"
}
