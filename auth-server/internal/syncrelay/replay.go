package syncrelay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// The replay side of a worker (store.Replay): when the outbox has nothing due for its target,
// a worker sends the next page of the target's replay, if one is in progress and no other
// replica holds it. Pages go in id order, and the cursor moves on only once the target
// acknowledged a page, so a replica that stops mid-page leaves it to be sent again. A replay
// is pipelined: two pages are in flight at once, the one after them is read, encoded and signed
// meanwhile (its cursor is known once a page is cut to the body limit), and the advance past
// the page acknowledged last is recorded while the next is waited for.

// page is a replay page made ready to send, in the background while the previous one is
// sent.
type page struct {
	after string // the cursor it reads after
	limit int    // the most users it reads; fewer means the replay is at its end
	done  chan struct{}
	ds    []store.Delivery // cut to the body limit
	full  bool             // limit users were read
	cut   bool             // the body limit left some of them for the next page
	body  []byte
	token string
	err   error
}

// last is the cursor after p: its last user.
func (p *page) last() string { return p.ds[len(p.ds)-1].UserID }

// prepare reads the page of up to limit users after the cursor after, cuts it to the body
// limit, and encodes and signs its body, in the background.
func (w *worker) prepare(ctx context.Context, after string, limit int) *page {
	p := &page{after: after, limit: limit, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ds, err := w.deps.Store.ReplayPage(ctx, after, limit, w.deps.Now())
		if err != nil || len(ds) == 0 {
			p.err = wrapIf("replay page", err)
			return
		}
		var rest []store.Delivery
		p.full = len(ds) >= limit
		p.ds, rest = fit(ds, w.cfg.MaxBatchBytes)
		p.cut = len(rest) > 0
		if p.body, p.err = batchBody(p.ds); p.err != nil {
			return
		}
		if p.token, p.err = w.deps.Tokens.Sync(p.body); p.err != nil {
			p.err = fmt.Errorf("sign sync token: %w", p.err)
		}
	}()
	return p
}

// pageAfter returns the page after the cursor after: the one prepared ahead when it reads from
// there and asked for no more than limit users, else one prepared now.
func (w *worker) pageAfter(ctx context.Context, after string, limit int) *page {
	p := w.next
	w.next = nil
	if p != nil {
		<-p.done
		if p.after == after && p.limit <= limit {
			return p
		}
	}
	p = w.prepare(ctx, after, limit)
	<-p.done
	return p
}

// heldReplay returns the replay this worker holds, renewing or taking the lease when it is
// not fresh enough to last a call; ok is false when there is none for this worker to send.
func (w *worker) heldReplay(ctx context.Context) (store.Replay, bool, error) {
	now := w.deps.Now()
	if r := w.replay; r != nil && now.Before(r.LeaseUntil.Add(-w.cfg.RequestTimeout-markTimeout)) {
		return *r, true, nil
	}
	if err := w.letGo(); err != nil {
		return store.Replay{}, false, err
	}
	r, ok, err := w.deps.Store.ClaimReplay(ctx, w.target, w.owner, now, w.cfg.Lease)
	if err != nil || !ok {
		return store.Replay{}, false, wrapIf("claim replay", err)
	}
	w.replay, w.upTo, w.more = &r, r.AfterID, true
	return r, true, nil
}

// replayCalls is how many pages of a replay may be in flight to a target at once: with two,
// the target decodes one while it writes the other (a target applies batches one at a time).
const replayCalls = 2

// call is one replay page being sent, in the background.
type call struct {
	p    *page
	done chan struct{}
	err  error
}

// launch sends p in the background and queues the call; the cursor of pages to prepare moves
// past it.
func (w *worker) launch(ctx context.Context, p *page) {
	c := &call{p: p, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.err = w.send(ctx, p.token, p.body)
	}()
	w.calls = append(w.calls, c)
	w.upTo, w.more = p.last(), p.full || p.cut
	if w.more {
		w.next = w.prepare(ctx, w.upTo, p.limit)
	}
}

// replayRound keeps up to replayCalls pages of the target's replay in flight, waits for the
// oldest, and moves the cursor past it once acknowledged; pages are acknowledged in order, so
// the cursor never passes a page that failed.
func (w *worker) replayRound(ctx context.Context, limit int) outcome {
	r, ok, err := w.heldReplay(ctx)
	if err != nil || !ok {
		return outcome{err: err}
	}
	for len(w.calls) < replayCalls && w.more {
		p := w.pageAfter(ctx, w.upTo, limit)
		if p.err != nil {
			if len(w.calls) == 0 {
				return outcome{err: p.err}
			}
			break // the calls in flight first; the page is read again next round
		}
		if len(p.ds) == 0 { // the page launched last was the last one
			w.more = false
			break
		}
		w.launch(ctx, p)
	}
	if len(w.calls) == 0 { // every page acknowledged, and the one after the last is empty
		return outcome{err: w.finish(ctx, r, r.AfterID, 0)}
	}
	c := w.calls[0]
	<-c.done
	w.calls = w.calls[1:]
	if c.err != nil {
		return w.replayFailed(ctx, r, len(c.p.ds), c.err)
	}
	n := len(c.p.ds)
	w.deps.Observer.Delivered(w.label, n)
	o := outcome{sent: n, full: c.p.full}
	if c.p.cut {
		o.fit = n
	}
	if !w.more && len(w.calls) == 0 {
		return outcome{sent: n, err: w.finish(ctx, r, c.p.last(), n)}
	}
	// The previous page's advance was recorded while this one was sent; this one's is
	// recorded while the next is.
	if err := w.settleAdvance(); err != nil || w.replay == nil {
		return outcome{sent: n, err: err}
	}
	w.advanceAsync(ctx, r, c.p.last(), n)
	r.AfterID, r.Sent, r.Attempts, r.LeaseUntil = c.p.last(), r.Sent+n, 0, w.deps.Now().Add(w.cfg.Lease)
	w.replay = &r
	return o
}

// advance is an AdvanceReplay running in the background.
type advance struct {
	done chan struct{}
	held bool
	err  error
}

// advanceAsync records in the background that the page up to after (n users) was
// acknowledged, bounded by markTimeout and not cancelled with ctx, like markAsync.
func (w *worker) advanceAsync(ctx context.Context, r store.Replay, after string, n int) {
	a := &advance{done: make(chan struct{})}
	w.advancing = a
	go func() {
		defer close(a.done)
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		defer cancel()
		a.held, a.err = w.deps.Store.AdvanceReplay(mctx, r, w.owner, after, n, false, w.deps.Now(), w.cfg.Lease)
	}()
}

// settleAdvance waits for the advance in flight, if any. When it failed, or found the replay
// no longer this worker's, the worker lets the replay go (the error says which; nil when it
// was restarted or taken over, which is no failure).
func (w *worker) settleAdvance() error {
	a := w.advancing
	if a == nil {
		return nil
	}
	w.advancing = nil
	<-a.done
	if a.err == nil && a.held {
		return nil
	}
	w.drain()
	return wrapIf("advance replay", a.err)
}

// finish records the last page's advance and ends the replay.
func (w *worker) finish(ctx context.Context, r store.Replay, after string, n int) error {
	if err := w.settleAdvance(); err != nil || w.replay == nil {
		return err
	}
	w.drain()
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	held, err := w.deps.Store.AdvanceReplay(mctx, r, w.owner, after, n, true, w.deps.Now(), w.cfg.Lease)
	if err != nil {
		return fmt.Errorf("finish replay: %w", err)
	}
	if held {
		w.log.Info("sync replay finished", "users", r.Sent+n)
	}
	return nil
}

// replayFailed records a failed call of the replay: the lease is kept through the backoff, so
// no replica calls the target again before it ends.
func (w *worker) replayFailed(ctx context.Context, r store.Replay, events int, sendErr error) outcome {
	if err := w.letGo(); err != nil {
		w.log.Warn("sync replay advance not recorded; its page is sent again", "err", err)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if ctx.Err() != nil {
		w.releaseReplay(mctx, r)
		return outcome{err: ctx.Err()}
	}
	w.deps.Observer.Failed(w.label, events)
	backoff := Backoff{Base: w.cfg.RetryBase, Max: w.cfg.RetryMax}
	retryAt := w.deps.Now().Add(backoff.Delay(r.Attempts+1, w.deps.Rand()))
	if err := w.deps.Store.ReplayFailed(mctx, r, w.owner, sendErr.Error(), retryAt); err != nil {
		w.log.Warn("sync replay failure not recorded; retried after the lease", "err", err)
	}
	return outcome{err: fmt.Errorf("replay of %d users: %w", events, sendErr), target: true}
}

// letGo forgets the replay this worker holds: it waits for the advance in flight, and
// returns its error, and for the calls in flight and the page prepared ahead (drain).
func (w *worker) letGo() error {
	err := w.settleAdvance()
	w.drain()
	return err
}

// drain forgets the replay without recording anything: it waits for the calls in flight
// (their pages are sent again by whoever holds the replay next; the observer still hears how
// each went) and the page prepared ahead.
func (w *worker) drain() {
	for _, c := range w.calls {
		<-c.done
		switch {
		case c.err == nil:
			w.deps.Observer.Delivered(w.label, len(c.p.ds))
		case !errors.Is(c.err, context.Canceled):
			w.deps.Observer.Failed(w.label, len(c.p.ds))
		}
	}
	if w.next != nil {
		<-w.next.done
	}
	w.replay, w.calls, w.next = nil, nil, nil
}

// releaseReplay lets go of r's lease at once (the relay is stopping), so another replica
// carries it on without waiting for the lease to end.
func (w *worker) releaseReplay(ctx context.Context, r store.Replay) {
	if err := w.deps.Store.ReleaseReplay(ctx, r, w.owner, w.deps.Now()); err != nil {
		w.log.Info("sync replay not released; carried on after the lease", "err", err)
	}
}

// stopReplay records the advance in flight and releases the replay this worker holds, if
// any, when it stops.
func (w *worker) stopReplay() {
	r := w.replay
	if err := w.letGo(); err != nil {
		w.log.Warn("sync replay advance not recorded; its page is sent again", "err", err)
	}
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
	defer cancel()
	w.releaseReplay(ctx, *r)
}

// outboxDue reports whether a worker holding a replay should look at the outbox first this
// round: a Notify came, or PollInterval passed since it last found nothing there. Without a
// replay the outbox is always looked at first.
func (w *worker) outboxDue(now time.Time) bool {
	if w.replay == nil || now.Sub(w.outboxIdle) >= w.cfg.PollInterval {
		return true
	}
	select {
	case <-w.wake:
		return true
	default:
		return false
	}
}
