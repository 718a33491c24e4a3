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
	"slices"
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
	// ClientIDTokenAlgs are the ID-token algorithms registered clients chose.
	ClientIDTokenAlgs(ctx context.Context) ([]string, error)
}

// snapshot is an immutable view of the key set at one version.
type snapshot struct {
	version int64
	algs    []string // the managed lifecycles at this version (see Ring.algsWith)
	all     []keys.Key
	signing map[string]jose.SigningKey // by algorithm: each lifecycle's current key
	kids    map[string]string          // by algorithm: the current key's kid
	jwks    []byte
	etag    string
	builtAt time.Time
}

// Ring holds the current snapshot and refreshes it. It keeps one key lifecycle per algorithm
// it manages (see New), each with its own next, current and retired keys.
type Ring struct {
	store  Store
	sealer *keys.Sealer
	policy keys.Policy
	alg    string   // the access-token algorithm (ALGORITHM)
	base   []string // the configured lifecycles: alg unless HS256, then RS256 for ID tokens, then extras
	now    func() time.Time
	log    *slog.Logger
	// generate makes a key's material (keys.Generate; a test hook).
	generate func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error)

	cur      atomic.Pointer[snapshot]
	reloadMu sync.Mutex
	// OnChange, when set before Run, is called after a reload with the new key set.
	OnChange func(ks []keys.Key)
}

// IDTokenAlg is the algorithm of ID tokens unless a client asks for another: OpenID Connect
// Discovery requires RS256, so the ring always keeps an RS256 lifecycle.
const IDTokenAlg = keys.AlgRS256

// New returns a Ring for access tokens of algorithm alg, sealed by sealer, under policy. The
// ring manages the lifecycle of alg, an RS256 lifecycle for ID tokens when alg is not RS256,
// and one for each ID-token algorithm registered clients chose (read from the store with the
// keys, so a client registered elsewhere is seen here at the next reload). With alg HS256
// (signed with SECRET_KEY, never a key of the ring) it manages only the RS256 lifecycle and
// the clients', and SigningKey reports ErrNoSigningKey.
func New(store Store, sealer *keys.Sealer, policy keys.Policy, alg string, now func() time.Time, log *slog.Logger) *Ring {
	r := &Ring{store: store, sealer: sealer, policy: policy, alg: alg, now: now, log: log, generate: keys.Generate}
	if alg != "HS256" {
		r.base = append(r.base, alg)
	}
	r.AddAlgorithms(IDTokenAlg)
	return r
}

// AddAlgorithms makes the ring always manage a lifecycle for each of algs too, whether or not
// a client registered it; algorithms it manages already are ignored. Call it before Bootstrap
// and Run, never concurrently with them.
func (r *Ring) AddAlgorithms(algs ...string) {
	for _, a := range algs {
		if !slices.Contains(r.base, a) {
			r.base = append(r.base, a)
		}
	}
}

// Algorithms returns the algorithms whose lifecycles the ring manages, the access-token
// algorithm first, then RS256, then the clients' others.
func (r *Ring) Algorithms() []string { return slices.Clone(r.algs()) }

// algs returns the managed lifecycles of the loaded snapshot (the configured ones before the
// first load).
func (r *Ring) algs() []string {
	if s := r.cur.Load(); s != nil {
		return s.algs
	}
	return r.base
}

// SigningKey returns the access-token algorithm's current key, carrying its kid.
func (r *Ring) SigningKey() (jose.SigningKey, error) { return r.SigningKeyFor(r.alg) }

// SigningKeyFor returns the current key of algorithm alg, carrying its kid; ErrNoSigningKey
// when none is loaded.
func (r *Ring) SigningKeyFor(alg string) (jose.SigningKey, error) {
	s := r.cur.Load()
	if s == nil {
		return jose.SigningKey{}, ErrNoSigningKey
	}
	sk, ok := s.signing[alg]
	if !ok {
		return jose.SigningKey{}, fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
	}
	return sk, nil
}

// CurrentKID returns the kid of the access-token signing key ("" when none).
func (r *Ring) CurrentKID() string { return r.CurrentKIDFor(r.alg) }

// CurrentKIDFor returns the kid of algorithm alg's current key ("" when none).
func (r *Ring) CurrentKIDFor(alg string) string {
	if s := r.cur.Load(); s != nil {
		return s.kids[alg]
	}
	return ""
}

// IDTokenAlgs returns the algorithms an ID token can be signed with now: those of the managed
// lifecycles with a current key loaded, RS256 first (for id_token_signing_alg_values_supported).
func (r *Ring) IDTokenAlgs() []string {
	s := r.cur.Load()
	if s == nil {
		return []string{}
	}
	out := []string{}
	if _, ok := s.signing[IDTokenAlg]; ok {
		out = append(out, IDTokenAlg)
	}
	for _, a := range s.algs {
		if _, ok := s.signing[a]; ok && a != IDTokenAlg {
			out = append(out, a)
		}
	}
	return out
}

// JWKS returns the published key set document and its ETag: every algorithm's published keys.
func (r *Ring) JWKS() ([]byte, string) {
	s := r.cur.Load()
	if s == nil {
		return []byte(`{"keys":[]}`), `"empty"`
	}
	return s.jwks, s.etag
}

// Keys returns the loaded key set, every algorithm's keys.
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

// Ready reports whether every managed algorithm's signing key is loaded.
func (r *Ring) Ready() bool {
	for _, a := range r.algs() {
		if _, err := r.SigningKeyFor(a); err != nil {
			return false
		}
	}
	return true
}

// Bootstrap creates the first current and next keys of every managed algorithm that has no
// current key: all of them on an empty store, the RS256 ID-token lifecycle alone on a store
// made before it existed, a client's algorithm registered without its keys (no key ring
// then). A replica that finds them there changes nothing. The keys are
// generated before the transaction opens, once a read found them missing, and dropped if
// another replica bootstrapped meanwhile.
func (r *Ring) Bootstrap(ctx context.Context) error {
	ks, _, algs, err := r.read(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	absent := missing(ks, algs)
	if len(absent) == 0 {
		return r.Reload(ctx)
	}
	fresh := map[string][]keys.Key{}
	for _, a := range absent {
		if fresh[a], err = r.generateKeys(a, 2); err != nil {
			return fmt.Errorf("bootstrap keys: %w", err)
		}
	}
	_, err = r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		still := missing(old, algs)
		if len(still) == 0 {
			return nil, errUnchanged
		}
		out := old
		for _, a := range still {
			f, ok := fresh[a]
			if !ok { // appeared after the read (another replica, configured otherwise): left to the next start
				continue
			}
			out = append(out, keys.Bootstrap(r.now(), f[0], f[1])...)
		}
		return out, nil
	}, nil)
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	if len(ks) > 0 && err == nil {
		r.log.Info("created the first keys of a new signing-key lifecycle", "algs", absent)
	}
	return r.Reload(ctx)
}

// missing returns the algorithms of algs without a current key in ks.
func missing(ks []keys.Key, algs []string) []string {
	var out []string
	for _, a := range algs {
		if _, ok := keys.CurrentFor(ks, a); !ok {
			out = append(out, a)
		}
	}
	return out
}

// errUnchanged aborts an update that found nothing to do; the transaction rolls back.
var errUnchanged = errors.New("key set unchanged")

// Reload reads the key set and swaps in a new snapshot.
func (r *Ring) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	ks, v, algs, err := r.read(ctx)
	if err != nil {
		return err
	}
	s, err := r.build(ks, v, algs)
	if err != nil {
		return err
	}
	r.cur.Store(s)
	if r.OnChange != nil {
		r.OnChange(ks)
	}
	return nil
}

func (r *Ring) build(ks []keys.Key, version int64, algs []string) (*snapshot, error) {
	now := r.now()
	s := &snapshot{version: version, algs: algs, all: ks, builtAt: now, signing: map[string]jose.SigningKey{}, kids: map[string]string{}}
	for _, alg := range algs { // an unmanaged lifecycle (ALGORITHM changed since) never signs
		cur, ok := keys.CurrentFor(ks, alg)
		if !ok {
			continue
		}
		sk, err := r.sealer.SigningKey(cur)
		if err != nil {
			return nil, fmt.Errorf("open current key %s: %w", cur.KID, err)
		}
		s.signing[alg], s.kids[alg] = sk, cur.KID
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
	ns, err := r.build(s.all, s.version, s.algs)
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

// due returns the managed algorithms whose lifecycle is due for automatic rotation now.
func (r *Ring) due() []string {
	if r.policy.RotateEvery <= 0 {
		return nil
	}
	var out []string
	ks, now := r.Keys(), r.now()
	for _, a := range r.algs() {
		if keys.DueForRotation(keys.ForAlg(ks, a), now, r.policy) {
			out = append(out, a)
		}
	}
	return out
}

// Run polls for key changes every interval, and rotates automatically when the policy says
// so (each algorithm's lifecycle when it is due; those due together in one change), until ctx
// ends. Failures are logged and retried at the next tick.
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
		if due := r.due(); len(due) > 0 {
			res, err := r.rotate(ctx, due, false, true)
			switch {
			case errors.Is(err, ErrAlreadyRotated):
				r.log.Info("automatic rotation done by another replica")
			case err != nil:
				r.log.Warn("automatic rotation failed", "err", err)
			default:
				for _, x := range res {
					r.log.Info("keys rotated automatically", "alg", x.Alg, "kid", x.Current, "next", x.Next)
				}
			}
		}
	}
}
