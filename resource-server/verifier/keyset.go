package verifier

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxKIDLen bounds the kid of a token or JWK. A longer kid is rejected without a
// lookup or a refresh.
const maxKIDLen = 256

// Background refresh policy of the JWKS (see nextInterval).
const (
	defaultRefreshInterval = 5 * time.Minute // JWKS response without max-age
	maxRefreshInterval     = time.Hour       // cap on a long max-age, so revocations arrive
	maxRetryInterval       = 5 * time.Minute // cap of the backoff after failed fetches
	initialRetryInterval   = time.Second     // first retry while the JWKS has never loaded
)

// keySnapshot is an immutable key set; a refresh swaps in a new one.
type keySnapshot struct {
	keys   map[string]*Key
	loaded bool // a fetch has succeeded at least once
}

// remoteKeySet is the remote JWKS (Config.JWKSURL), the KeySet of asymmetric mode: an atomic snapshot for lock-free lookups, plus one
// refresher goroutine that performs every fetch after the first. Fetches for
// unknown kids are coalesced: while one is requested or running, callers wait
// on it; otherwise a new one may start only minInterval after the last one.
type remoteKeySet struct {
	url         string
	client      *http.Client
	minInterval time.Duration
	now         func() time.Time
	log         *slog.Logger
	obs         Observer

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	pending     chan struct{} // non-nil while a fetch is requested or running; closed when it ends
	lastAttempt time.Time
	kick        chan struct{} // cap 1: wakes the refresher for a pending on-demand fetch
	stopped     chan struct{} // closed when the refresher exits

	// Used only by the goroutine that fetches (New, then the refresher).
	etag     string
	failures int
}

func newRemoteKeySet(url string, client *http.Client, minInterval time.Duration, now func() time.Time, log *slog.Logger, obs Observer) *remoteKeySet {
	ks := &remoteKeySet{
		url: url, client: client, minInterval: minInterval, now: now, log: log, obs: obs,
		kick:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	ks.snap.Store(&keySnapshot{})
	return ks
}

// start fetches once, then hands over to the refresher goroutine owned by ctx.
func (ks *remoteKeySet) start(ctx context.Context) {
	ks.mu.Lock()
	ks.lastAttempt = ks.now()
	ks.mu.Unlock()
	next := ks.fetch(ctx)
	go ks.run(ctx, next)
}

// run is the refresher: it fetches when the timer fires (max-age schedule) or
// when an unknown kid requested a fetch, until ctx ends.
func (ks *remoteKeySet) run(ctx context.Context, next time.Duration) {
	defer close(ks.stopped)
	timer := time.NewTimer(next)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			ks.begin(true)
		case <-ks.kick:
			if !ks.begin(false) {
				continue // stale kick: its fetch already ran on the timer
			}
		}
		next = ks.fetch(ctx)
		ks.finish()
		timer.Reset(next)
	}
}

// begin marks a fetch as running. A periodic fetch always runs; an on-demand
// one only if still pending.
func (ks *remoteKeySet) begin(periodic bool) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.pending == nil {
		if !periodic {
			return false
		}
		ks.pending = make(chan struct{})
	}
	ks.lastAttempt = ks.now()
	return true
}

// finish releases everyone waiting on the fetch that just ended.
func (ks *remoteKeySet) finish() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	close(ks.pending)
	ks.pending = nil
}

// awaitRefresh joins the fetch in progress, or requests one if the last began at
// least minInterval ago, and waits for it. It returns nil without waiting when
// no fetch is allowed, and an ErrKeysUnavailable error when ctx ends first.
func (ks *remoteKeySet) awaitRefresh(ctx context.Context) error {
	select {
	case <-ks.stopped:
		return nil
	default:
	}
	ks.mu.Lock()
	ch := ks.pending
	if ch == nil {
		now := ks.now()
		if now.Sub(ks.lastAttempt) < ks.minInterval {
			ks.mu.Unlock()
			return nil
		}
		ch = make(chan struct{})
		ks.pending, ks.lastAttempt = ch, now
		select {
		case ks.kick <- struct{}{}:
		default: // a kick is already queued; it will serve this request
		}
	}
	ks.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ks.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for key refresh: %w", ErrKeysUnavailable, context.Cause(ctx))
	}
}

// get returns the key for kid, refreshing the set at most once for an unknown
// kid (subject to minInterval).
func (ks *remoteKeySet) get(ctx context.Context, kid string) (*Key, error) {
	if kid == "" || len(kid) > maxKIDLen {
		return nil, fmt.Errorf("%w: kid missing or longer than %d bytes", ErrUnknownKey, maxKIDLen)
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if err := ks.awaitRefresh(ctx); err != nil {
		return nil, err
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if !ks.loaded() {
		return nil, fmt.Errorf("%w: the JWKS has not been loaded yet", ErrKeysUnavailable)
	}
	return nil, fmt.Errorf("%w: kid %.64q", ErrUnknownKey, kid)
}

// Key returns the key published under kid (see get); the Verifier checks its alg.
func (ks *remoteKeySet) Key(ctx context.Context, _, kid string, _ time.Time) (*Key, error) {
	return ks.get(ctx, kid)
}

// Holds reports whether k is still the key published under its kid.
func (ks *remoteKeySet) Holds(k *Key, _ time.Time) bool { return ks.lookup(k.kid) == k }

// Ready reports whether the JWKS has been loaded at least once.
func (ks *remoteKeySet) Ready() bool { return ks.loaded() }

// lookup returns the key currently published under kid, or nil.
func (ks *remoteKeySet) lookup(kid string) *Key {
	return ks.snap.Load().keys[kid]
}

func (ks *remoteKeySet) loaded() bool {
	return ks.snap.Load().loaded
}
