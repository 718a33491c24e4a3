package syncrelay

import (
	"context"
	"time"
)

// Loop is the worker loop of a relay: the sync relay's workers run it, and so does the mail
// relay (auth-server/internal/mailrelay). It calls a round while rounds make progress; when
// a round finds nothing to do it waits for Wake or PollInterval; after a failed round it backs
// off by the number of consecutive failures (Backoff, jittered by Rand), ignoring Wake, so a
// target that is down is not hammered by every new change.
type Loop struct {
	Backoff      Backoff
	PollInterval time.Duration
	Wake         <-chan struct{} // a Notify; nil: poll only
	Rand         func() float64  // jitter in [0, 1)
	// OnFailure is told every failed round: its error, the consecutive failures so far and
	// the wait before the next round (for the log).
	OnFailure func(err error, failures int, wait time.Duration)
}

// Round is what one round did: Progress when it finished some work (the next round starts at
// once), Err when something failed (the loop backs off; it wins over Progress).
type Round struct {
	Progress bool
	Err      error
}

// Run calls round until ctx ends.
func (l Loop) Run(ctx context.Context, round func(ctx context.Context) Round) {
	failures := 0
	for ctx.Err() == nil {
		o := round(ctx)
		var wait time.Duration
		wake := l.Wake
		switch {
		case ctx.Err() != nil:
			return
		case o.Err != nil:
			failures++
			wait, wake = l.Backoff.Delay(failures, l.Rand()), nil
			if l.OnFailure != nil {
				l.OnFailure(o.Err, failures, wait)
			}
		case o.Progress:
			failures = 0
			continue
		default:
			wait = l.PollInterval
		}
		if !sleep(ctx, wait, wake) {
			return
		}
	}
}
