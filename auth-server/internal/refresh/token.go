// Package refresh holds the refresh-token rules as pure code: making tokens, hashing them for
// storage, and the policy of durations that answers whether a token may still be used or
// replayed. It imports neither net/http nor SQL.
package refresh

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// tokenBytes is the entropy of a refresh token: 256 bits.
const tokenBytes = 32

// NewToken returns a fresh opaque refresh token and the hash under which it is stored.
func NewToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token), nil
}

// Hash is the stored form of a token: SHA-256 under a fixed label, base64url. A token has 256
// bits of entropy, so a fast hash suffices (nothing to brute-force).
func Hash(token string) string {
	sum := sha256.Sum256([]byte("jwtauth-refresh-id:" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Policy holds the parsed durations of refresh sessions.
type Policy struct {
	IdleTTL    time.Duration // a token unused this long expires (REFRESH_IDLE_TTL)
	MaxTTL     time.Duration // no session lives longer (SESSION_MAX_TTL)
	ReuseGrace time.Duration // REFRESH_REUSE_GRACE
}

// SessionExpiry is when a session started at created ends, however often it refreshes.
func (p Policy) SessionExpiry(created time.Time) time.Time { return created.Add(p.MaxTTL) }

// TokenExpiry is when a token issued at now expires: after IdleTTL, never past the session's end.
func (p Policy) TokenExpiry(now, sessionExpiry time.Time) time.Time {
	exp := now.Add(p.IdleTTL)
	if exp.After(sessionExpiry) {
		return sessionExpiry
	}
	return exp
}
