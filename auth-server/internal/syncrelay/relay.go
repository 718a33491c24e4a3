// Package syncrelay delivers the user-sync outbox to the sync targets (CONTRACT.md §8).
//
// One worker per target claims due deliveries from the store under a lease, POSTs them in
// batches as {"events": […]} with a freshly signed sync token, and records the outcome: a 2xx
// acknowledges the whole batch; anything else (a non-2xx status, a timeout, a refused
// connection) schedules each delivery again with exponential backoff and jitter, for ever.
// The store hands out a user's version N+1 for a target only once version N is acknowledged
// there, so each user's events reach each target in order. Delivery is at least once; the
// target makes it exactly once in effect by event id and version.
//
// The relay runs in its own goroutines: a target that is down or slow never holds up a user
// change (the outbox row is written in the change's transaction) nor another target.
package syncrelay

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// Store is the outbox as the relay uses it; *store.Store implements it.
type Store interface {
	ClaimDeliveries(ctx context.Context, target string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error)
	MarkDelivered(ctx context.Context, target string, eventIDs []string, now time.Time) error
	MarkFailed(ctx context.Context, target string, retries []store.Retry, msg string) error
	ReleaseDeliveries(ctx context.Context, target string, eventIDs []string, now time.Time) error
	OutboxStatus(ctx context.Context) ([]store.TargetStatus, error)
	PurgeDelivered(ctx context.Context, cutoff time.Time, limit int) (int, error)

	ClaimReplay(ctx context.Context, target, owner string, now time.Time, lease time.Duration) (store.Replay, bool, error)
	ReplayPage(ctx context.Context, afterID string, limit int, now time.Time) ([]store.Delivery, error)
	AdvanceReplay(ctx context.Context, r store.Replay, owner, afterID string, n int, done bool, now time.Time, lease time.Duration) (bool, error)
	ReplayFailed(ctx context.Context, r store.Replay, owner, msg string, retryAt time.Time) error
	ReleaseReplay(ctx context.Context, r store.Replay, owner string, now time.Time) error
	Replays(ctx context.Context) ([]store.Replay, error)
}

// TokenSource signs the short-lived token of one sync call; *tokens.Issuer implements it.
type TokenSource interface {
	Sync(body []byte) (string, error)
}

// Observer receives the relay's measurements, per target (its URL, any password hidden).
// Implementations must be safe for concurrent use and must not block.
type Observer interface {
	// Backlog reports how many deliveries to target are pending and the age of the oldest.
	Backlog(target string, pending int, oldest time.Duration)
	// Delivered reports that target acknowledged a call carrying events events.
	Delivered(target string, events int)
	// Failed reports a failed call to target carrying events events.
	Failed(target string, events int)
}

type nopObserver struct{}

func (nopObserver) Backlog(string, int, time.Duration) {}
func (nopObserver) Delivered(string, int)              {}
func (nopObserver) Failed(string, int)                 {}

// Config tunes the relay. A zero field takes the default in its comment.
type Config struct {
	// Targets are the sync targets' URLs, one worker each (duplicates are ignored).
	Targets []string
	// BatchSize is the most events sent in one POST (250: about what fits MaxBatchBytes with
	// usernames and emails of common lengths, so a call carries as many events as the body
	// limit allows without claiming many it must release). After a failed call the next ones
	// carry half as many, down to 1, so one event a target keeps refusing cannot hold back
	// the others for long; each success doubles it back.
	BatchSize int
	// MaxBatchBytes bounds the body of one POST (60000, under the resource server's 64 KiB
	// limit); claimed events beyond it are released at once for the next call.
	MaxBatchBytes int
	// RetryBase is the first retry delay (1s); it doubles per failure up to RetryMax (5m).
	RetryBase time.Duration
	RetryMax  time.Duration
	// RequestTimeout bounds one POST (10s).
	RequestTimeout time.Duration
	// Lease is how long a claimed delivery is reserved for this relay before any replica may
	// retry it (30s); it is raised to at least 2×RequestTimeout.
	Lease time.Duration
	// PollInterval is how often an idle worker looks for work without a Notify (1s): that is
	// how it sees work queued by another replica or by `auth-server sync replay`.
	PollInterval time.Duration
	// Retention is how long delivered rows are kept (7 days); CleanupInterval (1h) is how
	// often they are purged, and StatsInterval (15s) how often the backlog is reported.
	Retention       time.Duration
	CleanupInterval time.Duration
	StatsInterval   time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 250
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 60000
	}
	def(&c.RetryBase, time.Second)
	def(&c.RetryMax, 5*time.Minute)
	c.RetryMax = max(c.RetryMax, c.RetryBase)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.Lease, 30*time.Second)
	c.Lease = max(c.Lease, 2*c.RequestTimeout)
	def(&c.PollInterval, time.Second)
	def(&c.Retention, 7*24*time.Hour)
	def(&c.CleanupInterval, time.Hour)
	def(&c.StatsInterval, 15*time.Second)
	return c
}

// Deps are the relay's collaborators. Store and Tokens are required.
type Deps struct {
	Store  Store
	Tokens TokenSource
	// Client sends the calls; nil means a client of its own that never follows redirects
	// (a redirect would carry the token elsewhere, so it counts as a failure).
	Client   *http.Client
	Observer Observer         // nil: no measurements
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	Rand     func() float64   // jitter source in [0, 1); nil: math/rand/v2
}

// Relay delivers the outbox to every configured target until its Run's context ends.
type Relay struct {
	cfg     Config
	deps    Deps
	workers []*worker
}

// New returns a relay for cfg; it does nothing until Run.
func New(cfg Config, deps Deps) *Relay {
	cfg = cfg.withDefaults()
	if deps.Client == nil {
		deps.Client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if deps.Observer == nil {
		deps.Observer = nopObserver{}
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Rand == nil {
		deps.Rand = rand.Float64
	}
	r := &Relay{cfg: cfg, deps: deps}
	owner := uuid.NewString()
	seen := map[string]bool{}
	for _, t := range cfg.Targets {
		if !seen[t] {
			seen[t] = true
			r.workers = append(r.workers, &worker{target: t, label: redact(t), cfg: cfg, deps: deps,
				wake: make(chan struct{}, 1), log: deps.Log.With("target", redact(t)), owner: owner})
		}
	}
	return r
}

// Run delivers until ctx ends, then returns once every worker has stopped. It also purges
// delivered rows older than the retention and reports the backlog to the observer.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Go(func() { r.housekeep(ctx) })
	r.deps.Log.Info("sync relay started", "targets", len(r.workers))
	wg.Wait()
}

// Notify wakes every idle worker to look for work now (after a committed user change). It
// never blocks; a worker backing off after failures keeps waiting.
func (r *Relay) Notify() {
	for _, w := range r.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// housekeep reports the backlog and purges old delivered rows, each on its own ticker.
func (r *Relay) housekeep(ctx context.Context) {
	stats := time.NewTicker(r.cfg.StatsInterval)
	defer stats.Stop()
	cleanup := time.NewTicker(r.cfg.CleanupInterval)
	defer cleanup.Stop()
	r.purge(ctx)
	r.report(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-stats.C:
			r.report(ctx)
		case <-cleanup.C:
			r.purge(ctx)
		}
	}
}

const purgeBatch = 1000

// purge deletes delivered rows older than the retention, a bounded batch at a time.
func (r *Relay) purge(ctx context.Context) {
	cutoff := r.deps.Now().Add(-r.cfg.Retention)
	total := 0
	for ctx.Err() == nil {
		n, err := r.deps.Store.PurgeDelivered(ctx, cutoff, purgeBatch)
		total += n
		if err != nil {
			r.deps.Log.Warn("sync outbox purge failed", "err", err)
			return
		}
		if n < purgeBatch {
			break
		}
	}
	if total > 0 {
		r.deps.Log.Info("sync outbox purged", "rows", total, "before", cutoff.UTC().Format(time.RFC3339))
	}
}

// report passes every target's backlog to the observer: its pending deliveries and the users
// its replay has still to send, and the age of the oldest of them (a replay's counting from
// its start); configured targets with nothing pending report zero.
func (r *Relay) report(ctx context.Context) {
	st, err := r.deps.Store.OutboxStatus(ctx)
	var replays []store.Replay
	if err == nil {
		replays, err = r.deps.Store.Replays(ctx)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.deps.Log.Warn("sync backlog unavailable", "err", err)
		}
		return
	}
	type backlog struct {
		pending int
		oldest  time.Time
	}
	now, by := r.deps.Now(), map[string]*backlog{}
	add := func(target string, n int, since time.Time) {
		b := by[target]
		if b == nil {
			b = &backlog{oldest: since}
			by[target] = b
		}
		b.pending += n
		if since.Before(b.oldest) {
			b.oldest = since
		}
	}
	for _, s := range st {
		add(s.Target, s.Pending, s.OldestCreatedAt)
	}
	for _, rp := range replays {
		add(rp.Target, max(rp.Total-rp.Sent, 0), rp.StartedAt)
	}
	for t, b := range by {
		r.deps.Observer.Backlog(redact(t), b.pending, max(now.Sub(b.oldest), 0))
	}
	for _, w := range r.workers {
		if by[w.target] == nil {
			r.deps.Observer.Backlog(w.label, 0, 0)
		}
	}
}
