package syncrelay

import "time"

// Backoff is exponential backoff with jitter: the n-th consecutive failure (n ≥ 1) waits a
// duration in [d/2, d], where d = Base·2^(n-1) capped at Max. The random half spreads the
// retries of many deliveries (and of many replicas) that failed together.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay returns the wait after the n-th consecutive failure; r in [0, 1) picks the point in
// the jitter range (math/rand/v2's Float64 in production, fixed values in tests).
func (b Backoff) Delay(n int, r float64) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d <= 0 {
		return 0
	}
	r = min(max(r, 0), 1)
	return d/2 + time.Duration(r*float64(d/2))
}
