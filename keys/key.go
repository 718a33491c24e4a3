package keys

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is where a key is in its lifecycle.
type State string

// The states of a key, in lifecycle order.
const (
	// StateNext keys are published in the JWKS but do not sign yet.
	StateNext State = "next"
	// StateCurrent is the one key that signs.
	StateCurrent State = "current"
	// StateRetired keys no longer sign and stay published until RemoveAt.
	StateRetired State = "retired"
	// StateRevoked keys are never published again.
	StateRevoked State = "revoked"
)

// Key is one signing key as stored. A zero time.Time means "none".
type Key struct {
	KID         string    // RFC 7638 thumbprint (base64url SHA-256) of the public JWK
	Alg         string    // "ES256", "RS256" or "EdDSA"
	State       State     // lifecycle state
	PublicJWK   []byte    // JSON of the public JWK with kid, alg and use "sig" set
	Sealed      []byte    // private key (PKCS#8 DER) sealed by a Sealer, AAD = kid
	CreatedAt   time.Time // also the moment it was published (keys are created as next)
	ActivatedAt time.Time // became current
	RetiredAt   time.Time // stopped signing
	RevokedAt   time.Time // revoked
}

// Policy holds the parsed durations that drive the lifecycle. Parsing the
// configuration is the caller's job.
type Policy struct {
	PublishAhead time.Duration // KEY_PUBLISH_AHEAD: a next key is published this long before it signs
	AccessTTL    time.Duration // ACCESS_TOKEN_TTL: lifetime of the tokens a key signs
	JWKSMaxAge   time.Duration // JWKS_MAX_AGE: how long verifiers may cache the JWKS
	RotateEvery  time.Duration // KEY_ROTATE_EVERY: automatic rotation period; 0 turns it off
}

// Validate reports an error wrapping [ErrInvalidPolicy] unless every duration
// is non-negative, AccessTTL is positive and PublishAhead is at least
// JWKSMaxAge. The message names the configuration variable at fault.
func (p Policy) Validate() error {
	switch {
	case p.AccessTTL <= 0:
		return fmt.Errorf("%w: ACCESS_TOKEN_TTL must be positive, got %v", ErrInvalidPolicy, p.AccessTTL)
	case p.JWKSMaxAge < 0:
		return fmt.Errorf("%w: JWKS_MAX_AGE must not be negative, got %v", ErrInvalidPolicy, p.JWKSMaxAge)
	case p.RotateEvery < 0:
		return fmt.Errorf("%w: KEY_ROTATE_EVERY must not be negative, got %v", ErrInvalidPolicy, p.RotateEvery)
	case p.PublishAhead < p.JWKSMaxAge:
		return fmt.Errorf("%w: KEY_PUBLISH_AHEAD (%v) must be at least JWKS_MAX_AGE (%v)",
			ErrInvalidPolicy, p.PublishAhead, p.JWKSMaxAge)
	}
	return nil
}

// RemoveAt is when a retired key leaves the JWKS: RetiredAt + AccessTTL +
// PublishAhead. It is the zero time for a key that is not retired.
func (p Policy) RemoveAt(k Key) time.Time {
	if k.State != StateRetired || k.RetiredAt.IsZero() {
		return time.Time{}
	}
	return k.RetiredAt.Add(p.AccessTTL + p.PublishAhead)
}

// Current returns the current key, the one that signs. ok is false if there
// is none.
func Current(ks []Key) (k Key, ok bool) { return find(ks, StateCurrent) }

// Next returns the next key, published and waiting to sign. ok is false if
// there is none.
func Next(ks []Key) (k Key, ok bool) { return find(ks, StateNext) }

func find(ks []Key, s State) (Key, bool) {
	for _, k := range ks {
		if k.State == s {
			return k, true
		}
	}
	return Key{}, false
}

// Published returns the keys that belong in the JWKS at now: the next and
// current keys, and the retired keys whose RemoveAt is after now; never a
// revoked key. The order is stable (current, next, then retired keys, most
// recently retired first) so that the rendered JWKS and its ETag do not depend
// on the order of the rows.
func Published(ks []Key, now time.Time, p Policy) []Key {
	out := make([]Key, 0, len(ks))
	for _, k := range ks {
		switch k.State {
		case StateNext, StateCurrent:
			out = append(out, k)
		case StateRetired:
			if p.RemoveAt(k).After(now) {
				out = append(out, k)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Key) int {
		if c := cmp.Compare(publishRank(a.State), publishRank(b.State)); c != 0 {
			return c
		}
		if c := b.RetiredAt.Compare(a.RetiredAt); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
	return out
}

// publishRank orders the published states for [Published].
func publishRank(s State) int {
	switch s {
	case StateCurrent:
		return 0
	case StateNext:
		return 1
	}
	return 2
}

// RotateWait is how long until the next key has been published for
// PublishAhead, so that a rotation may proceed without force; 0 when it is
// ready, and 0 when there is no next key (then [Rotate] reports
// [ErrNoNextKey]).
func RotateWait(ks []Key, now time.Time, p Policy) time.Duration {
	n, ok := Next(ks)
	if !ok {
		return 0
	}
	if wait := n.CreatedAt.Add(p.PublishAhead).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

// DueForRotation reports whether automatic rotation should happen at now:
// RotateEvery is positive, the current key has signed for at least
// RotateEvery, and a next key is ready ([RotateWait] is 0).
func DueForRotation(ks []Key, now time.Time, p Policy) bool {
	if p.RotateEvery <= 0 {
		return false
	}
	c, ok := Current(ks)
	if !ok {
		return false
	}
	if _, ok := Next(ks); !ok {
		return false
	}
	since := c.ActivatedAt
	if since.IsZero() {
		since = c.CreatedAt
	}
	return now.Sub(since) >= p.RotateEvery && RotateWait(ks, now, p) == 0
}
