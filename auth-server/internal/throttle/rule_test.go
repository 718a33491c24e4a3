package throttle

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testRule is small enough to read the tables: block from the 3rd failure,
// 1s doubling to 8s, window 10m.
var testRule = Rule{Threshold: 3, Window: 10 * time.Minute, BaseDelay: time.Second, MaxDelay: 8 * time.Second}

func failAt(r Rule, offsets ...time.Duration) Counter {
	var c Counter
	for _, o := range offsets {
		c = r.Fail(c, t0.Add(o))
	}
	return c
}

func TestRuleFailAndBlocked(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name         string
		fails        []time.Duration
		at           time.Duration
		wantFailures int
		wantRetry    time.Duration
		wantBlocked  bool
	}{
		{name: "no failures", at: 0},
		{name: "below threshold", fails: []time.Duration{0, s}, at: s, wantFailures: 2},
		{name: "at threshold blocks for base delay", fails: []time.Duration{0, 0, 0}, at: 0, wantFailures: 3, wantRetry: s, wantBlocked: true},
		{name: "still blocked just before release", fails: []time.Duration{0, 0, 0}, at: s - time.Millisecond, wantFailures: 3, wantRetry: s, wantBlocked: true},
		{name: "released at BlockedUntil", fails: []time.Duration{0, 0, 0}, at: s, wantFailures: 3},
		{name: "4th failure doubles", fails: []time.Duration{0, 0, 0, s}, at: s, wantFailures: 4, wantRetry: 2 * s, wantBlocked: true},
		{name: "5th failure doubles again", fails: []time.Duration{0, 0, 0, s, 3 * s}, at: 3 * s, wantFailures: 5, wantRetry: 4 * s, wantBlocked: true},
		{name: "6th failure reaches the cap", fails: []time.Duration{0, 0, 0, s, 3 * s, 7 * s}, at: 7 * s, wantFailures: 6, wantRetry: 8 * s, wantBlocked: true},
		{name: "capped at MaxDelay", fails: []time.Duration{0, 0, 0, s, 3 * s, 7 * s, 15 * s, 23 * s}, at: 23 * s, wantFailures: 8, wantRetry: 8 * s, wantBlocked: true},
		{name: "released after the cap", fails: []time.Duration{0, 0, 0, s, 3 * s, 7 * s, 15 * s, 23 * s}, at: 31 * s, wantFailures: 8},
		{name: "within window keeps counting", fails: []time.Duration{0, 9*time.Minute + 59*s}, at: 10 * time.Minute, wantFailures: 2},
		{name: "window expiry restarts at 1", fails: []time.Duration{0, s, 10*time.Minute + s}, at: 10*time.Minute + s, wantFailures: 1},
		{name: "expiry exactly at window end", fails: []time.Duration{0, s, 10 * time.Minute}, at: 10 * time.Minute, wantFailures: 1},
		{name: "window lasts Window after the block", fails: []time.Duration{0, 0, 0, 10*time.Minute + s/2}, at: 10*time.Minute + s/2, wantFailures: 4, wantRetry: 2 * s, wantBlocked: true},
		{name: "block end plus Window restarts", fails: []time.Duration{0, 0, 0, 10*time.Minute + s}, at: 10*time.Minute + s, wantFailures: 1},
		{name: "restart below threshold after blocks", fails: []time.Duration{0, 0, 0, s, 3 * s, 7 * s, 15*s + 10*time.Minute, 15*s + 10*time.Minute}, at: 15*s + 10*time.Minute, wantFailures: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := failAt(testRule, tt.fails...)
			if c.Failures != tt.wantFailures {
				t.Errorf("Failures = %d, want %d (counter %+v)", c.Failures, tt.wantFailures, c)
			}
			retry, blocked := testRule.Blocked(c, t0.Add(tt.at))
			if retry != tt.wantRetry || blocked != tt.wantBlocked {
				t.Errorf("Blocked = %v, %v; want %v, %v (counter %+v)", retry, blocked, tt.wantRetry, tt.wantBlocked, c)
			}
		})
	}
}

func TestRuleFailNeverShortensABlock(t *testing.T) {
	c := Counter{Failures: 10, WindowStart: t0, BlockedUntil: t0.Add(time.Minute)}
	got := testRule.Fail(c, t0.Add(time.Second))
	if want := t0.Add(time.Minute); !got.BlockedUntil.Equal(want) {
		t.Errorf("BlockedUntil = %v, want %v", got.BlockedUntil, want)
	}
	if got.Failures != 11 {
		t.Errorf("Failures = %d, want 11", got.Failures)
	}
}

func TestRuleBlockedRetryAfterRounding(t *testing.T) {
	tests := []struct {
		left time.Duration
		want time.Duration
	}{
		{time.Nanosecond, time.Second},
		{time.Millisecond, time.Second},
		{999 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Second + time.Nanosecond, 2 * time.Second},
		{1200 * time.Millisecond, 2 * time.Second},
		{3 * time.Second, 3 * time.Second},
		{5*time.Minute - time.Millisecond, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.left.String(), func(t *testing.T) {
			c := Counter{Failures: 5, WindowStart: t0, BlockedUntil: t0.Add(tt.left)}
			got, blocked := testRule.Blocked(c, t0)
			if !blocked || got != tt.want {
				t.Errorf("Blocked = %v, %v; want %v, true", got, blocked, tt.want)
			}
		})
	}
}

func TestRuleDelay(t *testing.T) {
	const s = time.Second
	tests := []struct {
		rule     Rule
		failures int
		want     time.Duration
	}{
		{testRule, 0, 0},
		{testRule, 2, 0},
		{testRule, 3, s},
		{testRule, 4, 2 * s},
		{testRule, 5, 4 * s},
		{testRule, 6, 8 * s},
		{testRule, 7, 8 * s},
		{testRule, 1 << 30, 8 * s},
		{Rule{Threshold: 1, BaseDelay: s, MaxDelay: 5 * s}, 3, 4 * s},
		{Rule{Threshold: 1, BaseDelay: s, MaxDelay: 5 * s}, 4, 5 * s},
		{Rule{Threshold: 1, BaseDelay: s}, 1000, s << 33},          // no cap: stops doubling before overflow
		{Rule{Threshold: 0, BaseDelay: s, MaxDelay: 5 * s}, 10, 0}, // disabled rule
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v/%d", tt.rule, tt.failures), func(t *testing.T) {
			got := tt.rule.Delay(tt.failures)
			if got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.failures, got, tt.want)
			}
			if got < 0 {
				t.Errorf("Delay(%d) = %v overflowed", tt.failures, got)
			}
		})
	}
}

func TestRuleExpired(t *testing.T) {
	w := testRule.Window
	tests := []struct {
		name string
		c    Counter
		at   time.Duration
		want bool
	}{
		{"zero counter", Counter{}, 0, true},
		{"fresh", Counter{Failures: 1, WindowStart: t0}, 0, false},
		{"just before window end", Counter{Failures: 1, WindowStart: t0}, w - 1, false},
		{"window end", Counter{Failures: 1, WindowStart: t0}, w, true},
		{"old block before window end", Counter{Failures: 3, WindowStart: t0, BlockedUntil: t0.Add(time.Second)}, w, false},
		{"block end plus window", Counter{Failures: 3, WindowStart: t0, BlockedUntil: t0.Add(time.Second)}, w + time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testRule.Expired(tt.c, t0.Add(tt.at)); got != tt.want {
				t.Errorf("Expired = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRuleValidate(t *testing.T) {
	ok := testRule
	tests := []struct {
		name    string
		mod     func(*Rule)
		wantErr bool
	}{
		{"valid", func(*Rule) {}, false},
		{"zero threshold", func(r *Rule) { r.Threshold = 0 }, true},
		{"zero window", func(r *Rule) { r.Window = 0 }, true},
		{"zero base", func(r *Rule) { r.BaseDelay = 0 }, true},
		{"max below base", func(r *Rule) { r.MaxDelay = r.BaseDelay / 2 }, true},
		{"max equals base", func(r *Rule) { r.MaxDelay = r.BaseDelay }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mod(&r)
			err := r.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate(%+v) = %v, want error: %v", r, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v does not wrap ErrInvalidPolicy", err)
			}
		})
	}
}
