package throttle

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidPolicy is wrapped by the errors of [Rule.Validate] and
// [Policy.Validate].
var ErrInvalidPolicy = errors.New("invalid throttle policy")

// Rule throttles one key (an account or a client address). Failures are
// counted in a window that starts at the first failure; once Threshold
// failures are counted, every further attempt waits BaseDelay after the
// Threshold-th failure, twice that after the next one, and so on up to
// MaxDelay.
//
// The count starts again at 1 with the first failure after the window has
// run out: Window after its start and Window after the end of its last
// block, whichever is later. So an attacker who keeps failing as soon as
// each block ends keeps the count, and the MaxDelay pace; only Window of
// silence after a block forgets it.
type Rule struct {
	Threshold int           // failures in the window that start blocking; < 1 never blocks
	Window    time.Duration // how long failures are remembered
	BaseDelay time.Duration // block after the Threshold-th failure
	MaxDelay  time.Duration // the longest block; 0 means no cap
}

// Counter is the persisted state of one key. The zero Counter has no
// failures.
type Counter struct {
	Failures     int       // failures counted in the current window
	WindowStart  time.Time // first failure of the current window
	BlockedUntil time.Time // attempts before this instant are refused; zero if never blocked
}

// Validate reports whether r is usable: Threshold >= 1, Window > 0,
// BaseDelay > 0, and MaxDelay >= BaseDelay. The error wraps
// [ErrInvalidPolicy].
func (r Rule) Validate() error {
	switch {
	case r.Threshold < 1:
		return fmt.Errorf("%w: threshold %d, want at least 1", ErrInvalidPolicy, r.Threshold)
	case r.Window <= 0:
		return fmt.Errorf("%w: window %s, want > 0", ErrInvalidPolicy, r.Window)
	case r.BaseDelay <= 0:
		return fmt.Errorf("%w: base delay %s, want > 0", ErrInvalidPolicy, r.BaseDelay)
	case r.MaxDelay < r.BaseDelay:
		return fmt.Errorf("%w: max delay %s below base delay %s", ErrInvalidPolicy, r.MaxDelay, r.BaseDelay)
	}
	return nil
}

// Delay is the block that follows the failures-th failure of a window:
// 0 below Threshold, BaseDelay at Threshold, doubling with each further
// failure, capped at MaxDelay (when MaxDelay > 0).
func (r Rule) Delay(failures int) time.Duration {
	if r.Threshold < 1 || failures < r.Threshold || r.BaseDelay <= 0 {
		return 0
	}
	d := r.BaseDelay
	for i := r.Threshold; i < failures; i++ {
		if r.MaxDelay > 0 && d >= r.MaxDelay {
			break
		}
		if d > math.MaxInt64/2 { // doubling would overflow
			break
		}
		d *= 2
	}
	if r.MaxDelay > 0 && d > r.MaxDelay {
		d = r.MaxDelay
	}
	return d
}

// Expired reports whether c's window has run out at now: the next failure
// starts a new count, and a store may delete c (an expired counter never
// blocks). A zero Counter is expired.
func (r Rule) Expired(c Counter, now time.Time) bool {
	if c.WindowStart.IsZero() {
		return true
	}
	end := c.WindowStart
	if c.BlockedUntil.After(end) {
		end = c.BlockedUntil
	}
	return !now.Before(end.Add(r.Window))
}

// Fail returns the counter after one more failure at now. A counter whose
// window has run out (see [Rule.Expired]) restarts at 1 with its window
// starting at now. From the Threshold-th failure on, BlockedUntil is set to
// now plus [Rule.Delay] (never moved earlier).
func (r Rule) Fail(c Counter, now time.Time) Counter {
	if r.Expired(c, now) {
		c = Counter{WindowStart: now}
	}
	c.Failures++
	if d := r.Delay(c.Failures); d > 0 {
		if until := now.Add(d); until.After(c.BlockedUntil) {
			c.BlockedUntil = until
		}
	}
	return c
}

// Blocked reports whether c blocks an attempt at now, and for how long: the
// time left until BlockedUntil rounded up to whole seconds, at least 1s,
// ready for a Retry-After header.
func (r Rule) Blocked(c Counter, now time.Time) (retryAfter time.Duration, blocked bool) {
	if !now.Before(c.BlockedUntil) {
		return 0, false
	}
	return ceilSeconds(c.BlockedUntil.Sub(now)), true
}

// ceilSeconds rounds a positive d up to a whole number of seconds, at
// least one.
func ceilSeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}
