// Package keyring is the auth server's running view of its signing keys: the key to sign
// with and the JWKS to publish, reloaded when another process changes the key set (the CLI,
// another replica) by polling the key set's version, so no request reads the key table. It
// also makes the key changes themselves (bootstrap, rotation, revocation) as compare-and-swap
// updates of the store, with the lifecycle rules of package keys.
package keyring

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/keys"
)

// ErrNoSigningKey means no current key is loaded (yet).
var ErrNoSigningKey = errors.New("no signing key")

// Store is what the ring needs of the auth database.
type Store interface {
	KeySetVersion(ctx context.Context) (int64, error)
	Keys(ctx context.Context) ([]keys.Key, int64, error)
	UpdateKeys(ctx context.Context, fn func(old []keys.Key) ([]keys.Key, error), audit func() store.AuditEvent) (int64, error)
}

// snapshot is an immutable view of the key set at one version.
type snapshot struct {
	version int64
	all     []keys.Key
	signing jose.SigningKey
	kid     string
	alg     string
	jwks    []byte
	etag    string
	builtAt time.Time
}

// Ring holds the current snapshot and refreshes it.
type Ring struct {
	store  Store
	sealer *keys.Sealer
	policy keys.Policy
	alg    string
	now    func() time.Time
	log    *slog.Logger
	// generate makes a key's material (keys.Generate; a test hook).
	generate func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error)

	cur      atomic.Pointer[snapshot]
	reloadMu sync.Mutex
	// OnChange, when set before Run, is called after a reload with the new key set.
	OnChange func(ks []keys.Key)
}

// New returns a Ring for keys of algorithm alg, sealed by sealer, under policy.
func New(store Store, sealer *keys.Sealer, policy keys.Policy, alg string, now func() time.Time, log *slog.Logger) *Ring {
	return &Ring{store: store, sealer: sealer, policy: policy, alg: alg, now: now, log: log, generate: keys.Generate}
}

// SigningKey returns the current key, carrying its kid.
func (r *Ring) SigningKey() (jose.SigningKey, error) {
	s := r.cur.Load()
	if s == nil || s.kid == "" {
		return jose.SigningKey{}, ErrNoSigningKey
	}
	return s.signing, nil
}

// CurrentKID returns the kid of the signing key ("" when none).
func (r *Ring) CurrentKID() string {
	if s := r.cur.Load(); s != nil {
		return s.kid
	}
	return ""
}

// JWKS returns the published key set document and its ETag.
func (r *Ring) JWKS() ([]byte, string) {
	s := r.cur.Load()
	if s == nil {
		return []byte(`{"keys":[]}`), `"empty"`
	}
	return s.jwks, s.etag
}

// Keys returns the loaded key set.
func (r *Ring) Keys() []keys.Key {
	if s := r.cur.Load(); s != nil {
		return s.all
	}
	return nil
}

// StateCounts returns how many loaded keys are in each state (for metrics).
func (r *Ring) StateCounts() map[string]int {
	out := map[string]int{}
	for _, k := range r.Keys() {
		out[string(k.State)]++
	}
	return out
}

// Ready reports whether a signing key is loaded.
func (r *Ring) Ready() bool { _, err := r.SigningKey(); return err == nil }

// Bootstrap creates the first current and next keys when the store has none; a replica that
// finds keys already there changes nothing. The keys are generated before the transaction
// opens, once a read found none, and dropped if another replica bootstrapped meanwhile.
func (r *Ring) Bootstrap(ctx context.Context) error {
	ks, _, err := r.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	if _, ok := keys.Current(ks); ok {
		return r.Reload(ctx)
	}
	fresh, err := r.generateKeys(2)
	if err != nil {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	_, err = r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		if _, ok := keys.Current(old); ok {
			return nil, errUnchanged
		}
		return append(old, keys.Bootstrap(r.now(), fresh[0], fresh[1])...), nil
	}, nil)
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	return r.Reload(ctx)
}

// errUnchanged aborts an update that found nothing to do; the transaction rolls back.
var errUnchanged = errors.New("key set unchanged")

// Reload reads the key set and swaps in a new snapshot.
func (r *Ring) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	ks, v, err := r.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	s, err := r.build(ks, v)
	if err != nil {
		return err
	}
	r.cur.Store(s)
	if r.OnChange != nil {
		r.OnChange(ks)
	}
	return nil
}

func (r *Ring) build(ks []keys.Key, version int64) (*snapshot, error) {
	now := r.now()
	s := &snapshot{version: version, all: ks, builtAt: now}
	if cur, ok := keys.Current(ks); ok {
		sk, err := r.sealer.SigningKey(cur)
		if err != nil {
			return nil, fmt.Errorf("open current key %s: %w", cur.KID, err)
		}
		s.signing, s.kid, s.alg = sk, cur.KID, cur.Alg
	}
	published := keys.Published(ks, now, r.policy)
	doc, err := keys.JWKS(published)
	if err != nil {
		return nil, fmt.Errorf("render jwks: %w", err)
	}
	sum := sha256.Sum256(doc)
	s.jwks, s.etag = doc, `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`
	return s, nil
}

// refresh reloads when the stored version moved, and rebuilds the JWKS when time alone has
// taken a retired key past its removal.
func (r *Ring) refresh(ctx context.Context) error {
	v, err := r.store.KeySetVersion(ctx)
	if err != nil {
		return err
	}
	s := r.cur.Load()
	if s == nil || v != s.version {
		return r.Reload(ctx)
	}
	ns, err := r.build(s.all, s.version)
	if err != nil {
		return err
	}
	if ns.etag != s.etag {
		r.cur.CompareAndSwap(s, ns)
	}
	return nil
}

// prune deletes keys that have left the JWKS for good (retired past their removal time,
// revoked long ago), when there are any.
func (r *Ring) prune(ctx context.Context) error {
	if ks := r.Keys(); len(keys.Prune(ks, r.now(), r.policy)) == len(ks) {
		return nil
	}
	_, err := r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		pruned := keys.Prune(old, r.now(), r.policy)
		if len(pruned) == len(old) {
			return nil, errUnchanged
		}
		return pruned, nil
	}, nil)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	return r.Reload(ctx)
}

// Run polls for key changes every interval, and rotates automatically when the policy says
// so, until ctx ends. Failures are logged and retried at the next tick.
func (r *Ring) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.refresh(ctx); err != nil {
			r.log.Warn("key refresh failed", "err", err)
			continue
		}
		if err := r.prune(ctx); err != nil {
			r.log.Warn("key prune failed", "err", err)
		}
		if r.policy.RotateEvery > 0 && keys.DueForRotation(r.Keys(), r.now(), r.policy) {
			res, err := r.rotate(ctx, false, true)
			switch {
			case errors.Is(err, ErrAlreadyRotated):
				r.log.Info("automatic rotation done by another replica")
			case err != nil:
				r.log.Warn("automatic rotation failed", "err", err)
			default:
				r.log.Info("keys rotated automatically", "kid", res.Current, "next", res.Next)
			}
		}
	}
}
