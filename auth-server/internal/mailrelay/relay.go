// Package mailrelay sends the mail queue (CONTRACT §11) the way syncrelay delivers the user
// outbox, and with its parts: it runs syncrelay.Loop (work while there is work, wake on Notify
// or poll when idle, back off by consecutive failures) and syncrelay.Backoff (exponential, with
// jitter, for ever, per mail too); mails are claimed from the store under a lease committed
// before sending, as deliveries are (a relay that dies mid-send loses only its lease, and any
// replica sends the mail once it expires: at most one duplicate). An SMTP server that is down
// or slow therefore never fails or slows the request that queued the mail.
//
// The relay also resolves the /password/forgot requests (store.ResetRequest): each round it
// hands up to RequestBatch pending ones to its Resolver (the account service), which queues the
// reset mails, then sends mail.
package mailrelay

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
)

// Store is the mail queue as the relay uses it; *store.Store implements it.
type Store interface {
	ClaimMails(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error)
	MarkMailSent(ctx context.Context, id string, now time.Time) error
	MarkMailFailed(ctx context.Context, id string, next time.Time, msg string) error
	ReleaseMails(ctx context.Context, ids []string, now time.Time) error
	PendingResetRequests(ctx context.Context, limit int) ([]store.ResetRequest, error)
	PurgeSentMail(ctx context.Context, cutoff time.Time, limit int) (int, error)
	PurgeMailTokens(ctx context.Context, cutoff time.Time) (int, error)
}

// Sender hands one mail to the world: an SMTP server (SMTP), or the log (Log).
type Sender interface {
	Send(ctx context.Context, m store.Mail) error
}

// Resolver turns a reset request into the mails it causes (none for an unknown or throttled
// address), closing the request in the same transaction (once, whoever else tries);
// *account.Service implements it.
type Resolver interface {
	ResolveResetRequest(ctx context.Context, r store.ResetRequest) error
}

// Config tunes the relay. A zero field takes the default in its comment.
type Config struct {
	// BatchSize is the most mails claimed at once (1: a mail stuck on a slow server holds no
	// other mail's lease).
	BatchSize int
	// RequestBatch is the most reset requests resolved per round (50): they need no SMTP, so
	// a flood of /password/forgot costs a few queries each, not a round each.
	RequestBatch int
	// RetryBase is the first retry delay (1s); it doubles per failure up to RetryMax (5m).
	RetryBase time.Duration
	RetryMax  time.Duration
	// SendTimeout bounds one mail's whole SMTP exchange (30s); the Sender bounds each step.
	SendTimeout time.Duration
	// Lease is how long claimed mails are reserved for this relay; it is at least (and by
	// default) (BatchSize+1)×SendTimeout, so a lease never runs out while its batch is still
	// being sent (60s with the defaults).
	Lease time.Duration
	// PollInterval is how often an idle relay looks for mail without a Notify (1s).
	PollInterval time.Duration
	// Retention is how long sent mails are kept (7 days), CleanupInterval how often they and
	// expired tokens are purged (1h).
	Retention       time.Duration
	CleanupInterval time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1
	}
	if c.RequestBatch <= 0 {
		c.RequestBatch = 50
	}
	def(&c.RetryBase, time.Second)
	def(&c.RetryMax, 5*time.Minute)
	c.RetryMax = max(c.RetryMax, c.RetryBase)
	def(&c.SendTimeout, 30*time.Second)
	c.Lease = max(c.Lease, time.Duration(c.BatchSize+1)*c.SendTimeout)
	def(&c.PollInterval, time.Second)
	def(&c.Retention, 7*24*time.Hour)
	def(&c.CleanupInterval, time.Hour)
	return c
}

// Deps are the relay's collaborators; all but Log, Now and Rand are required.
type Deps struct {
	Store    Store
	Sender   Sender
	Resolver Resolver
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
	Rand     func() float64   // jitter in [0, 1); nil: math/rand/v2
}

// Relay sends the mail queue until its Run's context ends.
type Relay struct {
	cfg  Config
	deps Deps
	wake chan struct{}
}

// New returns a relay; it does nothing until Run.
func New(cfg Config, deps Deps) *Relay {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Rand == nil {
		deps.Rand = rand.Float64
	}
	return &Relay{cfg: cfg.withDefaults(), deps: deps, wake: make(chan struct{}, 1)}
}

// Notify wakes an idle relay to look for mail now (after a committed change queued one). It
// never blocks; a relay backing off after failures keeps waiting.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends, then returns once its goroutines have stopped.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.loop(ctx) })
	wg.Go(func() { r.housekeep(ctx) })
	r.deps.Log.Info("mail relay started")
	wg.Wait()
}

// loop is syncrelay's worker loop (syncrelay.Loop) over this queue: send while there is due
// mail; when there is none, wait for a Notify or the poll interval; after a failure, back off
// (ignoring Notify) by the number of consecutive failures.
func (r *Relay) loop(ctx context.Context) {
	l := syncrelay.Loop{Backoff: syncrelay.Backoff{Base: r.cfg.RetryBase, Max: r.cfg.RetryMax}, PollInterval: r.cfg.PollInterval,
		Wake: r.wake, Rand: r.deps.Rand,
		OnFailure: func(err error, failures int, wait time.Duration) {
			r.deps.Log.Warn("mail sending failed", "err", err, "consecutive_failures", failures, "retry_in", wait.Round(time.Millisecond).String())
		}}
	l.Run(ctx, func(ctx context.Context) syncrelay.Round {
		done, err := r.round(ctx)
		return syncrelay.Round{Progress: done > 0, Err: err}
	})
}

// markTimeout bounds recording an outcome, done even while stopping so a sent mail is not
// sent again.
const markTimeout = 5 * time.Second

// round resolves pending reset requests, then claims due mails and sends them one by one; it
// returns how many it finished and the last failure.
func (r *Relay) round(ctx context.Context) (int, error) {
	done, lastErr := r.resolve(ctx)
	ms, err := r.deps.Store.ClaimMails(ctx, r.deps.Now(), r.cfg.Lease, r.cfg.BatchSize)
	if err != nil {
		return done, fmt.Errorf("claim mails: %w", err)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	for i, m := range ms {
		if ctx.Err() != nil {
			r.release(mctx, ms[i:])
			return done, ctx.Err()
		}
		if err := r.process(ctx, mctx, m); err != nil {
			lastErr = err
			continue
		}
		done++
	}
	return done, lastErr
}

// resolve hands up to RequestBatch pending reset requests to the Resolver; one that fails
// stays pending for the next round.
func (r *Relay) resolve(ctx context.Context) (int, error) {
	if r.deps.Resolver == nil {
		return 0, nil
	}
	reqs, err := r.deps.Store.PendingResetRequests(ctx, r.cfg.RequestBatch)
	if err != nil {
		return 0, fmt.Errorf("pending reset requests: %w", err)
	}
	done, lastErr := 0, error(nil)
	for _, q := range reqs {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		if err := r.deps.Resolver.ResolveResetRequest(ctx, q); err != nil {
			lastErr = fmt.Errorf("resolve reset request %s: %w", q.ID, err)
			continue
		}
		done++
	}
	return done, lastErr
}

// process sends one mail and records the outcome.
func (r *Relay) process(ctx, mctx context.Context, m store.Mail) error {
	log := r.deps.Log.With("mail_id", m.ID, "kind", m.Kind)
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
	err := r.deps.Sender.Send(sctx, m)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			r.release(mctx, []store.Mail{m}) // stopping: no attempt counted
			return ctx.Err()
		}
		r.fail(mctx, m, err)
		return fmt.Errorf("send mail %s: %w", m.ID, err)
	}
	if err := r.deps.Store.MarkMailSent(mctx, m.ID, r.deps.Now()); err != nil {
		// Sent again once the lease expires: the one duplicate a crash can cause too.
		log.Warn("sent mail not recorded; it will be sent again", "err", err)
		return err
	}
	log.Debug("mail sent")
	return nil
}

func (r *Relay) fail(ctx context.Context, m store.Mail, cause error) {
	backoff := syncrelay.Backoff{Base: r.cfg.RetryBase, Max: r.cfg.RetryMax}
	next := r.deps.Now().Add(backoff.Delay(m.Attempts+1, r.deps.Rand()))
	if err := r.deps.Store.MarkMailFailed(ctx, m.ID, next, cause.Error()); err != nil {
		r.deps.Log.Warn("mail failure not recorded; retried after the lease", "mail_id", m.ID, "err", err)
	}
}

func (r *Relay) release(ctx context.Context, ms []store.Mail) {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if err := r.deps.Store.ReleaseMails(ctx, ids, r.deps.Now()); err != nil {
		r.deps.Log.Info("mails not released; retried after the lease", "err", err)
	}
}

const purgeBatch = 1000

// housekeep purges sent mails past the retention and expired tokens, on its ticker.
func (r *Relay) housekeep(ctx context.Context) {
	t := time.NewTicker(r.cfg.CleanupInterval)
	defer t.Stop()
	for {
		r.purge(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Relay) purge(ctx context.Context) {
	now := r.deps.Now()
	for ctx.Err() == nil {
		n, err := r.deps.Store.PurgeSentMail(ctx, now.Add(-r.cfg.Retention), purgeBatch)
		if err != nil {
			r.deps.Log.Warn("mail purge failed", "err", err)
			return
		}
		if n < purgeBatch {
			break
		}
	}
	if _, err := r.deps.Store.PurgeMailTokens(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
		r.deps.Log.Warn("mail token purge failed", "err", err)
	}
}
