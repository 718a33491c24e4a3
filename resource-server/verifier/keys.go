package verifier

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"
)

// KeySet is where a Verifier finds the key that checks a token's signature, as go-oidc's
// KeySet is. Implementations: the remote JWKS (Config.JWKSURL), StaticKeySet (an HS256
// secret, or a JWKS document already at hand), and LegacyHS256 (two sets, one of them for a
// limited time). Implementations must be safe for concurrent use. The Verifier checks the
// algorithm against Config.Algorithms before it asks, and that the returned key's algorithm
// equals the token's after.
type KeySet interface {
	// Key returns the key for a token whose header names alg and kid, at now (the Verifier's
	// clock). It may wait for a refresh of the set, bounded by ctx. Errors wrap ErrUnknownKey,
	// ErrAlgorithm or ErrKeysUnavailable.
	Key(ctx context.Context, alg, kid string, now time.Time) (*Key, error)
	// Holds reports whether k, returned by Key earlier, is still in the set at now. The
	// verified-token cache serves a token only while its key is held, so a key removed from
	// the set stops verifying cached tokens too. It must be cheap: it runs on every cache hit.
	Holds(k *Key, now time.Time) bool
	// Ready reports whether the set can verify tokens (a remote set: loaded at least once).
	Ready() bool
}

// Key is one verification key: its kid, its algorithm, and the public key (or HS256
// secret). A KeySet hands out the same *Key for as long as the key is unchanged, so that a
// cache entry can test "is my key still held" with one pointer comparison.
type Key struct {
	kid      string
	alg      string
	material any // *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey, or []byte for HS256
}

// KeyID returns the key's kid ("" for an HS256 secret, which matches any kid).
func (k *Key) KeyID() string { return k.kid }

// Algorithm returns the one algorithm the key verifies.
func (k *Key) Algorithm() string { return k.alg }

// StaticKeySet is a key set that never changes, like go-oidc's StaticKeySet. A token's kid
// selects the key with that kid; a key without kid (an HS256 secret) serves every token of
// its algorithm, since HS256 tokens carry no kid.
type StaticKeySet struct {
	keys []*Key
}

// NewHS256KeySet returns the key set of one HS256 secret (at least MinHS256SecretLen bytes,
// used as given). Tokens are matched whatever kid they name, or none.
func NewHS256KeySet(secret []byte) (*StaticKeySet, error) {
	if len(secret) < MinHS256SecretLen {
		return nil, fmt.Errorf("%w: HS256 secret must be at least %d bytes", ErrConfig, MinHS256SecretLen)
	}
	return &StaticKeySet{keys: []*Key{{alg: HS256, material: bytes.Clone(secret)}}}, nil
}

// NewJWKSKeySet returns the key set of a JWKS document held locally (no HTTP), with the rules
// of the remote set: a JWK is used only with a kid, an alg that fits its key (P-256, RSA of
// at least 2048 bits, Ed25519) and use "sig" or none; other keys are skipped with a warning
// to log (nil: discarded). Keys equal to one of prev's (same kid, alg and public key) keep
// prev's *Key, so tokens cached with them stay cached; prev may be nil.
func NewJWKSKeySet(ctx context.Context, jwks []byte, prev *StaticKeySet, log *slog.Logger) (*StaticKeySet, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var old map[string]*Key
	if prev != nil {
		old = make(map[string]*Key, len(prev.keys))
		for _, k := range prev.keys {
			old[k.kid] = k
		}
	}
	keys, err := parseJWKS(ctx, jwks, old, log)
	if err != nil {
		return nil, err
	}
	s := &StaticKeySet{keys: make([]*Key, 0, len(keys))}
	for _, k := range keys {
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Key returns the key with kid, or the kid-less key of alg.
func (s *StaticKeySet) Key(_ context.Context, alg, kid string, _ time.Time) (*Key, error) {
	if len(kid) > maxKIDLen {
		return nil, fmt.Errorf("%w: kid longer than %d bytes", ErrUnknownKey, maxKIDLen)
	}
	var anyKID *Key
	for _, k := range s.keys {
		switch {
		case k.kid != "" && k.kid == kid:
			return k, nil
		case k.kid == "" && k.alg == alg:
			anyKID = k
		}
	}
	if anyKID == nil {
		return nil, fmt.Errorf("%w: kid %.64q", ErrUnknownKey, kid)
	}
	return anyKID, nil
}

// Holds reports whether k is one of s's keys.
func (s *StaticKeySet) Holds(k *Key, _ time.Time) bool {
	for _, own := range s.keys {
		if own == k {
			return true
		}
	}
	return false
}

// Ready reports true: a static set is always loaded.
func (s *StaticKeySet) Ready() bool { return true }

// Len returns the number of keys in s.
func (s *StaticKeySet) Len() int { return len(s.keys) }

// LegacyHS256 returns a key set that answers HS256 lookups from hs until until, by the
// Verifier's clock, and every other lookup from primary: the window in which a deployment
// moves off HS256 without logging anyone out (LEGACY_HS256_UNTIL). From until on, HS256
// lookups fail with ErrAlgorithm and cached HS256 tokens are no longer served.
func LegacyHS256(primary, hs KeySet, until time.Time) KeySet {
	return &legacyHS256{primary: primary, hs: hs, until: until}
}

type legacyHS256 struct {
	primary, hs KeySet
	until       time.Time
}

func (l *legacyHS256) Key(ctx context.Context, alg, kid string, now time.Time) (*Key, error) {
	if alg != HS256 {
		return l.primary.Key(ctx, alg, kid, now)
	}
	if !now.Before(l.until) {
		return nil, fmt.Errorf("%w: HS256 not allowed since %s", ErrAlgorithm, l.until.UTC().Format(time.RFC3339))
	}
	return l.hs.Key(ctx, alg, kid, now)
}

func (l *legacyHS256) Holds(k *Key, now time.Time) bool {
	if k.alg != HS256 {
		return l.primary.Holds(k, now)
	}
	return now.Before(l.until) && l.hs.Holds(k, now)
}

func (l *legacyHS256) Ready() bool { return l.primary.Ready() }
