package syncrelay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// errStatus is wrapped by the error of a call that got a non-2xx answer.
var errStatus = errors.New("target answered")

// markTimeout bounds recording an outcome, which is done even while the relay stops so an
// acknowledged batch is not sent again.
const markTimeout = 5 * time.Second

// worker delivers the outbox of one target.
type worker struct {
	target string
	label  string // target with any password hidden, for logs and metrics
	cfg    Config
	deps   Deps
	wake   chan struct{}
	log    *slog.Logger
	// marking records the acknowledgement of the last batch sent, in the background while
	// the next one is sent (run's goroutine only; nil when none is in flight).
	marking *mark
	// owner names this relay in the leases of replays (replay.go); replay is the replay it
	// holds (nil: none), calls its pages in flight (oldest first), upTo the cursor after the
	// last of them and more whether pages follow it, next the page after it prepared ahead,
	// advancing the advance of the page acknowledged last, in flight, and outboxIdle when the
	// outbox last had nothing due (run's goroutine only).
	owner      string
	replay     *store.Replay
	calls      []*call
	upTo       string
	more       bool
	next       *page
	advancing  *advance
	outboxIdle time.Time
}

// outcome is what one round did.
type outcome struct {
	sent   int   // events acknowledged
	err    error // nil when nothing failed
	target bool  // err is the target's failure (not the database's or the signer's)
	full   bool  // as many deliveries were due as the round asked for
	fit    int   // when the body limit cut the batch: how many events it held (else 0)
}

// run loops until ctx ends (Loop): deliver while there is due work; when there is none, wait
// for a Notify or the poll interval; after a failure, back off (ignoring Notify) with the
// number of consecutive failures. A failure of the target halves the batch, a success
// doubles it back, up to what the body limit last held (most): claiming more only to release
// the rest costs a statement a round. most is forgotten once the backlog is drained. While a
// full batch is being sent, the next one is claimed (ahead), so the claim's round trips overlap
// the call instead of adding to it. When the outbox has nothing due, the round sends a page of
// the target's replay instead (replay.go); while a replay runs, the outbox is looked at again
// on a Notify or after PollInterval, so changes wait behind a replay no longer than they wait
// for an idle worker to poll.
func (w *worker) run(ctx context.Context) {
	batch, most := w.cfg.BatchSize, w.cfg.BatchSize
	var ahead *claim
	defer func() {
		w.drop(ahead)
		w.stopReplay()
		if err := w.settle(); err != nil {
			w.log.Warn("sync acknowledgement not recorded; sent again after the lease", "err", err)
		}
	}()
	l := Loop{Backoff: Backoff{Base: w.cfg.RetryBase, Max: w.cfg.RetryMax}, PollInterval: w.cfg.PollInterval,
		Wake: w.wake, Rand: w.deps.Rand,
		OnFailure: func(err error, failures int, wait time.Duration) {
			w.log.Warn("sync delivery failed", "err", err, "consecutive_failures", failures, "retry_in", wait.Round(time.Millisecond).String())
		}}
	l.Run(ctx, func(ctx context.Context) Round {
		var o outcome
		if ahead != nil || w.outboxDue(w.deps.Now()) {
			o, ahead = w.round(ctx, batch, ahead)
			w.outboxIdle = time.Time{}
			if o.err == nil && o.sent == 0 {
				w.outboxIdle = w.deps.Now()
			}
		}
		if o.err == nil && o.sent == 0 && ctx.Err() == nil {
			o = w.replayRound(ctx, batch)
		}
		switch {
		case ctx.Err() != nil:
		case o.err != nil:
			if o.target {
				batch = max(1, batch/2)
			}
		case o.sent > 0:
			switch {
			case o.fit > 0:
				most = o.fit
			case !o.full:
				most = w.cfg.BatchSize
			}
			batch = min(most, batch*2)
		}
		return Round{Progress: o.sent > 0, Err: o.err}
	})
}

// claim is a ClaimDeliveries running in the background while a batch is sent.
type claim struct {
	done chan struct{}
	ds   []store.Delivery
	err  error
}

// claimAhead starts claiming up to limit deliveries in the background. The deliveries it
// claims are not those of the batch being sent, nor a later version of one of its users (the
// store offers a user's next version only once the previous one is delivered), so sending
// them next keeps every user's events in order.
func (w *worker) claimAhead(ctx context.Context, limit int) *claim {
	c := &claim{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.ds, c.err = w.deps.Store.ClaimDeliveries(ctx, w.target, w.deps.Now(), w.cfg.Lease, limit)
	}()
	return c
}

// take waits for c and returns what it claimed.
func (c *claim) take() ([]store.Delivery, error) {
	<-c.done
	return c.ds, wrapIf("claim deliveries", c.err)
}

// drop waits for c (nil: none) and releases what it claimed, unsent.
func (w *worker) drop(c *claim) {
	if c == nil {
		return
	}
	ds, _ := c.take()
	mctx, cancel := context.WithTimeout(context.Background(), markTimeout)
	defer cancel()
	w.release(mctx, eventIDs(ds))
}

// sleep waits d, or until wake fires (a nil wake never does); false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// mark is a MarkDelivered running in the background.
type mark struct {
	done chan struct{}
	err  error
}

// markAsync records in the background that target acknowledged ids, bounded by markTimeout
// and not cancelled with ctx (an acknowledged batch is recorded even while the relay stops).
// The previous mark must be settled first.
func (w *worker) markAsync(ctx context.Context, ids []string) {
	m := &mark{done: make(chan struct{})}
	w.marking = m
	go func() {
		defer close(m.done)
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		defer cancel()
		m.err = w.deps.Store.MarkDelivered(mctx, w.target, ids, w.deps.Now())
	}()
}

// settle waits for the mark in flight, if any, and returns its error.
func (w *worker) settle() error {
	m := w.marking
	if m == nil {
		return nil
	}
	w.marking = nil
	<-m.done
	return m.err
}

// round sends the deliveries ahead claimed during the previous round (nil, or nothing: claims
// up to limit now) in one call and records the outcome. When the batch was full, it claims the
// next one while the call runs and returns that claim; after a failure it releases it instead,
// so the backoff and the halved batch apply to it. A success is recorded in the background
// (markAsync) while the next batch is sent.
func (w *worker) round(ctx context.Context, limit int, ahead *claim) (outcome, *claim) {
	var ds []store.Delivery
	var err error
	if ahead != nil {
		ds, err = ahead.take()
	}
	if ahead == nil || (err == nil && len(ds) == 0) {
		// Claim only once the previous batch's acknowledgement is recorded: it may make the
		// next version of its users due.
		if err := w.settle(); err != nil {
			return outcome{err: fmt.Errorf("mark delivered: %w", err)}, nil
		}
		ds, err = w.deps.Store.ClaimDeliveries(ctx, w.target, w.deps.Now(), w.cfg.Lease, limit)
		err = wrapIf("claim deliveries", err)
	}
	if err != nil || len(ds) == 0 {
		return outcome{err: err}, nil
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	full := len(ds) >= limit
	ds, rest := fit(ds, w.cfg.MaxBatchBytes)
	cut := 0
	if len(rest) > 0 {
		cut = len(ds)
	}
	w.release(mctx, eventIDs(rest))
	ids := eventIDs(ds)
	body, err := batchBody(ds)
	if err != nil {
		w.release(mctx, ids)
		return outcome{err: err}, nil
	}
	token, err := w.deps.Tokens.Sync(body)
	if err != nil {
		w.release(mctx, ids)
		return outcome{err: fmt.Errorf("sign sync token: %w", err)}, nil
	}
	var next *claim
	if full {
		next = w.claimAhead(ctx, limit)
	}
	start := time.Now()
	sendErr := w.send(ctx, token, body)
	switch {
	case sendErr == nil:
		w.deps.Observer.Delivered(w.label, len(ds))
		w.log.Debug("sync delivered", "events", len(ds), "took", time.Since(start).String())
		// The previous batch's acknowledgement was recorded while this one was sent; this
		// one's is recorded while the next is. A batch whose mark fails is sent again once
		// its lease expires; the target ignores what it already has.
		prev := w.settle()
		w.markAsync(ctx, ids)
		if prev != nil {
			w.drop(next)
			return outcome{err: fmt.Errorf("mark delivered: %w", prev)}, nil
		}
		return outcome{sent: len(ds), full: full, fit: cut}, next
	case ctx.Err() != nil:
		w.release(mctx, ids) // stopping: not the target's fault, no attempt counted
		w.drop(next)
		return outcome{err: ctx.Err()}, nil
	}
	if err := w.settle(); err != nil {
		w.log.Warn("sync acknowledgement not recorded; sent again after the lease", "err", err)
	}
	w.drop(next)
	w.deps.Observer.Failed(w.label, len(ds))
	now := w.deps.Now()
	retries := make([]store.Retry, len(ds))
	backoff := Backoff{Base: w.cfg.RetryBase, Max: w.cfg.RetryMax}
	for i, d := range ds {
		retries[i] = store.Retry{EventID: d.EventID, At: now.Add(backoff.Delay(d.Attempts+1, w.deps.Rand()))}
	}
	if err := w.deps.Store.MarkFailed(mctx, w.target, retries, sendErr.Error()); err != nil {
		w.log.Warn("sync failure not recorded; retried after the lease", "err", err)
	}
	return outcome{err: fmt.Errorf("%d events: %w", len(ds), sendErr), target: true}, nil
}

// fit splits ds into the longest prefix (at least one) whose batch body stays within
// maxBytes, and the rest.
func fit(ds []store.Delivery, maxBytes int) (batch, rest []store.Delivery) {
	size := len(`{"events":[]}`)
	for i, d := range ds {
		size += len(d.Payload) + 1
		if i > 0 && size > maxBytes {
			return ds[:i], ds[i:]
		}
	}
	return ds, nil
}

func eventIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

func (w *worker) release(ctx context.Context, eventIDs []string) {
	if len(eventIDs) == 0 {
		return
	}
	if err := w.deps.Store.ReleaseDeliveries(ctx, w.target, eventIDs, w.deps.Now()); err != nil {
		w.log.Info("sync deliveries not released; retried after the lease", "err", err)
	}
}

// send POSTs one batch with the token and succeeds on a 2xx answer only.
func (w *worker) send(ctx context.Context, token string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "jwtauth-auth-server/user-sync")
	resp, err := w.deps.Client.Do(req)
	if err != nil {
		return err // a *url.Error: "Post \"URL\": cause", any password hidden
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w %s: %s", errStatus, resp.Status, printable(head))
	}
	return nil
}

// batchBody is the request body carrying ds: {"events": [...]}.
func batchBody(ds []store.Delivery) ([]byte, error) {
	events := make([]json.RawMessage, len(ds))
	for i, d := range ds {
		events[i] = d.Payload
	}
	body, err := json.Marshal(struct {
		Events []json.RawMessage `json:"events"`
	}{events})
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return body, nil
}

// printable keeps the start of a response body fit for a log line and the last_error column.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}

// redact hides a password in a target URL, for logs.
func redact(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "invalid-url"
	}
	return u.Redacted()
}

func wrapIf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
