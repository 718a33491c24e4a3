package throttle

import (
	"fmt"
	"time"
)

// Policy is the login throttling policy: one rule for the failures of an
// account, one for the failures from a client address.
type Policy struct {
	Account Rule
	Address Rule
}

// DefaultPolicy returns the policy described in the package documentation:
// Account: 5 failures, window 1h, blocks from 1s doubling to at most 5m.
// Address: 20 failures, window 1h, blocks from 1s doubling to at most 15m.
func DefaultPolicy() Policy {
	return Policy{
		Account: Rule{Threshold: 5, Window: time.Hour, BaseDelay: time.Second, MaxDelay: 5 * time.Minute},
		Address: Rule{Threshold: 20, Window: time.Hour, BaseDelay: time.Second, MaxDelay: 15 * time.Minute},
	}
}

// Validate reports whether both rules are valid ([Rule.Validate]).
func (p Policy) Validate() error {
	if err := p.Account.Validate(); err != nil {
		return fmt.Errorf("account rule: %w", err)
	}
	if err := p.Address.Validate(); err != nil {
		return fmt.Errorf("address rule: %w", err)
	}
	return nil
}

// Check reports whether an attempt at now is refused, given the account's
// and the address's counters, and the Retry-After to send: the larger of
// the two waits.
func (p Policy) Check(account, address Counter, now time.Time) (retryAfter time.Duration, blocked bool) {
	a, aBlocked := p.Account.Blocked(account, now)
	b, bBlocked := p.Address.Blocked(address, now)
	return max(a, b), aBlocked || bBlocked
}

// ForgetBefore is the instant before which a counter's WindowStart and BlockedUntil must both
// lie for the counter to be expired ([Rule.Expired]) at now under both rules: it neither
// blocks nor counts any more, the next failure starts it again, and a store may delete it.
// The longer window decides, since a store does not know which rule a counter is kept for.
func (p Policy) ForgetBefore(now time.Time) time.Time {
	return now.Add(-max(p.Account.Window, p.Address.Window))
}
