// Package denylist is the resource server's deny-list of revoked tokens (docs/revocation.md):
// the revocations in its app database, held in memory so that checking a token costs no
// database read. A sync batch's revocations are remembered as soon as the batch commits;
// what another replica on the same app database applied is read from the database every
// PollInterval; entries go once every token they cover has expired.
package denylist

import (
	"context"
	"log/slog"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Defaults of Config.
const (
	// PollInterval: how often the database is read for revocations other replicas applied.
	// With the auth server's delivery this keeps every replica within the 2 s of CONTRACT §10.
	PollInterval = 500 * time.Millisecond
	// Lookback: each read covers revocations applied this long before the previous read
	// began, so a transaction that committed late, or a replica whose clock is behind by up
	// to this much, is not missed.
	Lookback = 5 * time.Second
	// PruneInterval: how often expired entries are dropped, in memory and in the database
	// (a walk of the map, and one indexed DELETE).
	PruneInterval = 5 * time.Second
)

// Observer is told of each revocation that entered the list (source "sync" when this replica
// received it, "database" when another did) with the lag since the auth server made it, and
// of the list's size. Its methods must be cheap and safe for concurrent use.
type Observer interface {
	RevocationApplied(source string, lag time.Duration)
	DenyListSize(n int)
}

// Config is the list's settings; zero values select the defaults above.
type Config struct {
	// Leeway is the verifier's clock leeway: an entry is kept that long after its tokens'
	// expiry, as the verifier accepts them that long.
	Leeway       time.Duration
	PollInterval time.Duration
	Lookback     time.Duration
}

// List is the deny-list; it is the verifier's RevocationChecker. Safe for concurrent use.
type List struct {
	cfg   Config
	mem   *verifier.MemoryRevocations
	store *appstore.Store
	obs   Observer
	log   *slog.Logger
	now   func() time.Time
}

// New returns an empty list over store; Load fills it.
func New(cfg Config, store *appstore.Store, obs Observer, log *slog.Logger, now func() time.Time) *List {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = PollInterval
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = Lookback
	}
	if obs == nil {
		obs = nopObserver{}
	}
	return &List{cfg: cfg, mem: verifier.NewMemoryRevocations(cfg.Leeway), store: store, obs: obs, log: log, now: now}
}

// Revoked reports whether the verified claims c are revoked (verifier.RevocationChecker).
func (l *List) Revoked(c *verifier.Claims) bool { return l.mem.Revoked(c) }

// Len returns how many revocations the list holds.
func (l *List) Len() int { return l.mem.Len() }

// Load reads every revocation in force from the database: at start, before serving.
func (l *List) Load(ctx context.Context) error {
	rs, err := l.store.RevocationsSince(ctx, time.Time{}, l.now().Add(-l.grace()))
	if err != nil {
		return err
	}
	for _, r := range rs {
		l.mem.Add(r.Revocation)
	}
	l.obs.DenyListSize(l.mem.Len())
	return nil
}

// Remember adds the revocations of a sync batch that this replica committed.
func (l *List) Remember(rs []appstore.StoredRevocation) {
	l.add("sync", rs)
}

func (l *List) add(source string, rs []appstore.StoredRevocation) {
	if len(rs) == 0 {
		return
	}
	now := l.now()
	for _, r := range rs {
		if l.mem.Add(r.Revocation) > 0 {
			l.obs.RevocationApplied(source, now.Sub(r.OccurredAt))
		}
	}
	l.obs.DenyListSize(l.mem.Len())
}

func (l *List) grace() time.Duration {
	if l.cfg.Leeway > 0 {
		return l.cfg.Leeway
	}
	return verifier.DefaultLeeway
}

// Run reads the revocations other replicas apply and prunes expired ones, until ctx ends.
// A failed read is logged and retried at the next tick (the list keeps what it has).
func (l *List) Run(ctx context.Context) {
	poll := time.NewTicker(l.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(PruneInterval)
	defer prune.Stop()
	since := l.now().Add(-l.cfg.Lookback)
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			start := l.now()
			rs, err := l.store.RevocationsSince(ctx, since, start.Add(-l.grace()))
			if err != nil {
				if !failing && ctx.Err() == nil {
					l.log.Warn("deny-list: reading revocations failed; retrying", "error", err)
				}
				failing = true
				continue
			}
			failing = false
			l.add("database", rs)
			since = start.Add(-l.cfg.Lookback)
		case <-prune.C:
			now := l.now()
			l.mem.Prune(now)
			l.obs.DenyListSize(l.mem.Len())
			if _, err := l.store.PruneRevocations(ctx, now.Add(-l.grace())); err != nil && ctx.Err() == nil {
				l.log.Warn("deny-list: pruning the database failed", "error", err)
			}
		}
	}
}

type nopObserver struct{}

func (nopObserver) RevocationApplied(string, time.Duration) {}
func (nopObserver) DenyListSize(int)                        {}
