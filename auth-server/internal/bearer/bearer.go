// Package bearer is the auth server's check of its own access tokens: the public verifier
// (resource-server/verifier), exactly as strict as at a resource server (pinned algorithm,
// no key from the token, typ at+jwt, the required claims and the leeway rule of
// internal/accesstoken), on a local key set: the key ring's published keys, read from the
// JWKS document the ring renders (no HTTP), or the HS256 secret.
package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// JWKSSource is the key ring as the check needs it: the JWKS it publishes, and an ETag that
// changes whenever the document does.
type JWKSSource interface {
	JWKS() (body []byte, etag string)
}

// Config configures New.
type Config struct {
	Issuer    string   // required iss
	Audience  []string // aud must contain one of these
	Algorithm string   // ALGORITHM: ES256, RS256, EdDSA or HS256
	// Algorithms, when set, are the asymmetric algorithms accepted instead of Algorithm alone
	// (the ID-token hint check: ID tokens may be signed with any lifecycle's key).
	Algorithms []string
	// HS256Secret is SECRET_KEY, used in HS256 mode.
	HS256Secret []byte
	// Keys are the published keys of an asymmetric Algorithm (the key ring).
	Keys JWKSSource
	// Leeway is CLOCK_LEEWAY; 0 means none (not the verifier's default).
	Leeway time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns the verifier of the auth server's Bearer endpoints. It starts nothing and
// fetches nothing.
func New(ctx context.Context, cfg Config) (*verifier.Verifier, error) {
	vc := verifier.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Now: cfg.Now,
		Logger: cfg.Logger,
	}
	if vc.Leeway == 0 {
		vc.Leeway = time.Nanosecond // the verifier reads 0 as its default, 30s
	}
	if cfg.Algorithm == verifier.HS256 && len(cfg.Algorithms) == 0 {
		vc.HS256Secret = cfg.HS256Secret
	} else {
		if cfg.Keys == nil {
			return nil, errors.New("bearer: Keys is required with an asymmetric algorithm")
		}
		vc.Algorithms = []string{cfg.Algorithm}
		if len(cfg.Algorithms) > 0 {
			vc.Algorithms = cfg.Algorithms
		}
		vc.KeySet = NewLocalKeySet(cfg.Keys, cfg.Logger)
	}
	v, err := verifier.New(ctx, vc)
	if err != nil {
		return nil, fmt.Errorf("bearer verifier: %w", err)
	}
	return v, nil
}

// LocalKeySet is a verifier.KeySet over a JWKSSource: a verifier.StaticKeySet of the
// source's document, rebuilt when its ETag changes (keys that stay keep their identity, so
// tokens verified with them stay cached; a revoked key stops verifying at once).
type LocalKeySet struct {
	src JWKSSource
	log *slog.Logger
	cur atomic.Pointer[localSnapshot]
	mu  sync.Mutex // one rebuild at a time
}

type localSnapshot struct {
	etag string
	set  *verifier.StaticKeySet
}

// NewLocalKeySet returns the key set of src's published keys; log (nil: discarded) receives
// warnings about keys the verifier skips.
func NewLocalKeySet(src JWKSSource, log *slog.Logger) *LocalKeySet {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LocalKeySet{src: src, log: log}
}

// set returns the static set of src's current document.
func (l *LocalKeySet) set(ctx context.Context) (*verifier.StaticKeySet, error) {
	body, etag := l.src.JWKS()
	if s := l.cur.Load(); s != nil && s.etag == etag {
		return s.set, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.cur.Load()
	if s != nil && s.etag == etag {
		return s.set, nil
	}
	var prev *verifier.StaticKeySet
	if s != nil {
		prev = s.set
	}
	set, err := verifier.NewJWKSKeySet(ctx, body, prev, l.log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", verifier.ErrKeysUnavailable, err)
	}
	l.cur.Store(&localSnapshot{etag: etag, set: set})
	return set, nil
}

// Key returns the published key for kid (verifier.KeySet).
func (l *LocalKeySet) Key(ctx context.Context, alg, kid string, now time.Time) (*verifier.Key, error) {
	set, err := l.set(ctx)
	if err != nil {
		return nil, err
	}
	return set.Key(ctx, alg, kid, now)
}

// Holds reports whether k is still published (verifier.KeySet).
func (l *LocalKeySet) Holds(k *verifier.Key, now time.Time) bool {
	set, err := l.set(context.Background())
	return err == nil && set.Holds(k, now)
}

// Ready reports true: the keys are in the process (whether a signing key is loaded is the
// key ring's readiness).
func (l *LocalKeySet) Ready() bool { return true }
