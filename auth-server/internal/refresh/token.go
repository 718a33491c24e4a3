// Package refresh holds the refresh-token rules as pure code: making tokens, hashing them for
// storage, and the policy of durations that answers whether a token may still be used or
// replayed. It imports neither net/http nor SQL.
package refresh

import (
	"time"

	"github.com/jwtauth/jwtauth/internal/opaque"
)

// tokenLabel labels the stored hashes of refresh tokens (and of the other opaque tokens the
// account service keys by refresh.Hash: codes, login cookies, mfa tokens).
const tokenLabel = "jwtauth-refresh-id:"

// NewToken returns a fresh opaque refresh token and the hash under which it is stored.
func NewToken() (token, hash string, err error) { return opaque.New(tokenLabel) }

// Hash is the stored form of a token (opaque.Hash under the refresh label).
func Hash(token string) string { return opaque.Hash(tokenLabel, token) }

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
