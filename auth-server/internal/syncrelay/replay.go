package syncrelay

import (
	"context"
	"fmt"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// The replay side of a worker (store.Replay): when the outbox has nothing due for its target,
// a worker sends the next page of the target's replay, if one is in progress and no other
// replica holds it. Pages go in id order; while one is sent the next is read (the cursor is
// known once the batch is cut to the body limit), and the cursor moves on only once the
// target acknowledged, so a replica that stops mid-page leaves it to be sent again.

// page is a ReplayPage read in the background while the previous page is sent.
type page struct {
	after string // the cursor it reads after
	limit int    // the most users it reads
	done  chan struct{}
	ds    []store.Delivery
	err   error
}

func (w *worker) readAhead(ctx context.Context, after string, limit int) *page {
	p := &page{after: after, limit: limit, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.ds, p.err = w.deps.Store.ReplayPage(ctx, after, limit, w.deps.Now())
	}()
	return p
}

// replayPage returns the page after r's cursor, and the most users it could have held (fewer
// means the replay is at its end): the one read ahead when it reads from there and asked for
// no more than limit users, else a fresh read of limit users.
func (w *worker) replayPage(ctx context.Context, r store.Replay, limit int) ([]store.Delivery, int, error) {
	if p := w.next; p != nil {
		w.next = nil
		<-p.done
		if p.err == nil && p.after == r.AfterID && p.limit <= limit {
			return p.ds, p.limit, nil
		}
	}
	ds, err := w.deps.Store.ReplayPage(ctx, r.AfterID, limit, w.deps.Now())
	return ds, limit, err
}

// heldReplay returns the replay this worker holds, renewing or taking the lease when it is
// not fresh enough to last a call; ok is false when there is none for this worker to send.
func (w *worker) heldReplay(ctx context.Context) (store.Replay, bool, error) {
	now := w.deps.Now()
	if r := w.replay; r != nil && now.Before(r.LeaseUntil.Add(-w.cfg.RequestTimeout-markTimeout)) {
		return *r, true, nil
	}
	w.replay = nil
	r, ok, err := w.deps.Store.ClaimReplay(ctx, w.target, w.owner, now, w.cfg.Lease)
	if err != nil || !ok {
		return store.Replay{}, false, wrapIf("claim replay", err)
	}
	w.replay = &r
	return r, true, nil
}

// replayRound sends one page of the target's replay and moves the cursor past it.
func (w *worker) replayRound(ctx context.Context, limit int) outcome {
	r, ok, err := w.heldReplay(ctx)
	if err != nil || !ok {
		return outcome{err: err}
	}
	ds, limit, err := w.replayPage(ctx, r, limit)
	if err != nil {
		return outcome{err: fmt.Errorf("replay page: %w", err)}
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if len(ds) == 0 {
		_, err := w.deps.Store.AdvanceReplay(mctx, r, w.owner, r.AfterID, 0, true, w.deps.Now(), w.cfg.Lease)
		w.replay = nil
		if err == nil {
			w.log.Info("sync replay finished", "users", r.Sent)
		}
		return outcome{err: wrapIf("finish replay", err)}
	}
	full := len(ds) >= limit
	ds, rest := fit(ds, w.cfg.MaxBatchBytes)
	cut, last := 0, ds[len(ds)-1].UserID
	if len(rest) > 0 {
		cut = len(ds)
	}
	if full || cut > 0 {
		w.next = w.readAhead(ctx, last, limit)
	}
	body, err := batchBody(ds)
	if err != nil {
		return outcome{err: err}
	}
	token, err := w.deps.Tokens.Sync(body)
	if err != nil {
		return outcome{err: fmt.Errorf("sign sync token: %w", err)}
	}
	if err := w.send(ctx, token, body); err != nil {
		return w.replayFailed(ctx, mctx, r, len(ds), err)
	}
	w.deps.Observer.Delivered(w.label, len(ds))
	done := !full && cut == 0
	held, err := w.deps.Store.AdvanceReplay(mctx, r, w.owner, last, len(ds), done, w.deps.Now(), w.cfg.Lease)
	switch {
	case err != nil:
		w.replay = nil
		return outcome{err: fmt.Errorf("advance replay: %w", err)}
	case !held || done:
		w.replay = nil
		if held {
			w.log.Info("sync replay finished", "users", r.Sent+len(ds))
		}
	default:
		r.AfterID, r.Sent, r.LeaseUntil = last, r.Sent+len(ds), w.deps.Now().Add(w.cfg.Lease)
		w.replay = &r
	}
	return outcome{sent: len(ds), full: full, fit: cut}
}

// replayFailed records a failed call of the replay: the lease is kept through the backoff, so
// no replica calls the target again before it ends.
func (w *worker) replayFailed(ctx, mctx context.Context, r store.Replay, events int, sendErr error) outcome {
	w.replay, w.next = nil, w.dropPage(w.next)
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

// dropPage waits for a page read ahead (nil: none) and forgets it.
func (w *worker) dropPage(p *page) *page {
	if p != nil {
		<-p.done
	}
	return nil
}

// releaseReplay lets go of r's lease at once (the relay is stopping), so another replica
// carries it on without waiting for the lease to end.
func (w *worker) releaseReplay(ctx context.Context, r store.Replay) {
	if err := w.deps.Store.ReleaseReplay(ctx, r, w.owner, w.deps.Now()); err != nil {
		w.log.Info("sync replay not released; carried on after the lease", "err", err)
	}
}

// stopReplay releases the replay this worker holds, if any, when it stops.
func (w *worker) stopReplay() {
	w.next = w.dropPage(w.next)
	if w.replay == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
	defer cancel()
	w.releaseReplay(ctx, *w.replay)
	w.replay = nil
}
