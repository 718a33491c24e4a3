package throttle

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	want := Policy{
		Account: Rule{Threshold: 5, Window: time.Hour, BaseDelay: time.Second, MaxDelay: 5 * time.Minute},
		Address: Rule{Threshold: 20, Window: time.Hour, BaseDelay: time.Second, MaxDelay: 15 * time.Minute},
	}
	if p != want {
		t.Errorf("DefaultPolicy() = %+v, want %+v (doc.go states these numbers)", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("DefaultPolicy().Validate() = %v", err)
	}
	bad := p
	bad.Address.Threshold = 0
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted an address rule with threshold 0")
	}
}

func TestPolicyCheck(t *testing.T) {
	p := Policy{Account: testRule, Address: testRule}
	blockedFor := func(d time.Duration) Counter {
		return Counter{Failures: 5, WindowStart: t0, BlockedUntil: t0.Add(d)}
	}
	tests := []struct {
		name             string
		account, address Counter
		wantRetry        time.Duration
		wantBlocked      bool
	}{
		{"neither", Counter{}, Counter{}, 0, false},
		{"account only", blockedFor(3 * time.Second), Counter{}, 3 * time.Second, true},
		{"address only", Counter{}, blockedFor(4 * time.Second), 4 * time.Second, true},
		{"account longer", blockedFor(9 * time.Second), blockedFor(4 * time.Second), 9 * time.Second, true},
		{"address longer", blockedFor(3 * time.Second), blockedFor(7500 * time.Millisecond), 8 * time.Second, true},
		{"both released", blockedFor(0), blockedFor(-time.Second), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, blocked := p.Check(tt.account, tt.address, t0)
			if retry != tt.wantRetry || blocked != tt.wantBlocked {
				t.Errorf("Check = %v, %v; want %v, %v", retry, blocked, tt.wantRetry, tt.wantBlocked)
			}
		})
	}
}

// attack counts the failures an attacker gets in horizon against one
// counter of r: fail whenever not blocked, and after k failures (k > 0) go
// quiet until the window runs out, to start again from a fresh count.
func attack(r Rule, k int, horizon time.Duration) int {
	now, end := t0, t0.Add(horizon)
	var c Counter
	n, inCycle := 0, 0
	for now.Before(end) {
		switch {
		case now.Before(c.BlockedUntil):
			now = c.BlockedUntil
		case k > 0 && inCycle == k:
			now = later(now, c.WindowStart.Add(r.Window)) // the earliest it can run out
			for !r.Expired(c, now) {
				now = now.Add(time.Second)
			}
			inCycle = 0
		default:
			c = r.Fail(c, now)
			n++
			inCycle++
		}
	}
	return n
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func TestDefaultPolicyGuessesPerDay(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name string
		rule Rule
		want int // the bound stated in doc.go
	}{
		{"account", p.Account, 300},
		{"address", p.Address, 624},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			best, bestK := 0, 0
			for k := 0; k <= 100; k++ {
				if n := attack(tt.rule, k, 24*time.Hour); n > best {
					best, bestK = n, k
				}
			}
			if best != tt.want {
				t.Errorf("best schedule (quiet after %d failures; 0 = never) gets %d guesses a day, doc.go says %d", bestK, best, tt.want)
			}
		})
	}
}

// TestNoLongLockout: whatever the failures before, an account is free
// MaxDelay after the last one.
func TestNoLongLockout(t *testing.T) {
	p := DefaultPolicy()
	rng := rand.New(rand.NewPCG(1, 2))
	capped := 0
	for i := range 200 {
		var c Counter
		now := t0
		for range rng.IntN(200) {
			now = now.Add(time.Duration(rng.Int64N(int64(10 * time.Minute))))
			if _, blocked := p.Account.Blocked(c, now); !blocked {
				c = p.Account.Fail(c, now)
			}
		}
		if p.Account.Delay(c.Failures) == p.Account.MaxDelay {
			capped++
		}
		if _, blocked := p.Account.Blocked(c, now.Add(p.Account.MaxDelay)); blocked {
			t.Fatalf("run %d: still blocked MaxDelay after the last failure: %+v at %v", i, c, now)
		}
	}
	if capped == 0 {
		t.Error("no run reached the MaxDelay cap; the test does not exercise it")
	}
}

// TestPolicyForgetBefore: a counter whose window start and block end both lie before
// ForgetBefore is expired under both rules; one whose window or block goes on after it is not
// (the rule with the longer window still counts it), whichever rule has the longer window.
func TestPolicyForgetBefore(t *testing.T) {
	short, long := testRule, testRule
	short.Window, long.Window = time.Minute, time.Hour
	for _, p := range []Policy{{Account: short, Address: long}, {Account: long, Address: short}} {
		cut := p.ForgetBefore(t0)
		tests := []struct {
			name        string
			c           Counter
			wantExpired bool // under both rules
		}{
			{"window before the cut", Counter{Failures: 1, WindowStart: cut.Add(-time.Millisecond)}, true},
			{"block ended before the cut", Counter{Failures: 9, WindowStart: cut.Add(-time.Hour), BlockedUntil: cut.Add(-time.Millisecond)}, true},
			{"window after the cut", Counter{Failures: 1, WindowStart: cut.Add(time.Millisecond)}, false},
			{"block ends after the cut", Counter{Failures: 9, WindowStart: cut.Add(-time.Hour), BlockedUntil: cut.Add(time.Second)}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := p.Account.Expired(tt.c, t0) && p.Address.Expired(tt.c, t0); got != tt.wantExpired {
					t.Errorf("ForgetBefore = %v: counter %+v expired under both rules = %v, want %v", cut, tt.c, got, tt.wantExpired)
				}
			})
		}
	}
}
