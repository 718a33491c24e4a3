package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestPruneThrottle: pruning deletes the counters whose window and last block both ended before
// the time it is given, and keeps every other: a live window, a block still running or only
// just over, a counter at the cut itself.
func TestPruneThrottle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		cut := time.Now().UTC().Truncate(time.Millisecond)
		counters := []struct {
			key        string
			c          throttle.Counter
			wantPruned bool
		}{
			{"expired", throttle.Counter{Failures: 3, WindowStart: cut.Add(-time.Hour)}, true},
			{"expired after a block", throttle.Counter{Failures: 9, WindowStart: cut.Add(-2 * time.Hour), BlockedUntil: cut.Add(-time.Millisecond)}, true},
			{"live window", throttle.Counter{Failures: 1, WindowStart: cut.Add(time.Minute)}, false},
			{"window at the cut", throttle.Counter{Failures: 1, WindowStart: cut}, false},
			{"old window, block running", throttle.Counter{Failures: 9, WindowStart: cut.Add(-2 * time.Hour), BlockedUntil: cut.Add(time.Minute)}, false},
			{"old window, block ended at the cut", throttle.Counter{Failures: 9, WindowStart: cut.Add(-2 * time.Hour), BlockedUntil: cut}, false},
		}
		keys := make([]string, len(counters))
		for i, tc := range counters {
			keys[i] = tc.key
		}
		set := func(key string, _ throttle.Counter) throttle.Counter {
			for _, tc := range counters {
				if tc.key == key {
					return tc.c
				}
			}
			t.Fatalf("unknown key %q", key)
			return throttle.Counter{}
		}
		if err := s.RecordFailure(ctx, set, store.AuditEvent{At: time.Now(), Event: store.AuditLoginFailure}, keys...); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneThrottle(ctx, cut)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("PruneThrottle deleted %d counters, want 2", n)
		}
		for _, tc := range counters {
			got, err := s.ThrottleCounter(ctx, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if pruned := got.Failures == 0; pruned != tc.wantPruned {
				t.Errorf("%s: counter %+v after pruning; want pruned %v", tc.key, got, tc.wantPruned)
			}
		}
	})
}

// ThrottleCounters reads two counters at once, each under its own key, zero when absent.
func TestThrottleCounters(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		set := func(key string, c throttle.Counter) throttle.Counter {
			if key == "account:a" {
				return throttle.Counter{Failures: 3, WindowStart: now}
			}
			return throttle.Counter{Failures: 7, WindowStart: now, BlockedUntil: now.Add(time.Minute)}
		}
		if err := s.RecordFailure(ctx, set, store.AuditEvent{At: now, Event: store.AuditLoginFailure}, "account:a", "address:b"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			a, b       string
			fa, fb     int
			blockedInB bool
		}{
			{"account:a", "address:b", 3, 7, true},
			{"address:b", "account:a", 7, 3, false},
			{"account:a", "address:none", 3, 0, false},
			{"account:none", "account:none", 0, 0, false},
		} {
			ca, cb, err := s.ThrottleCounters(ctx, tc.a, tc.b)
			if err != nil || ca.Failures != tc.fa || cb.Failures != tc.fb || !cb.BlockedUntil.IsZero() != tc.blockedInB {
				t.Errorf("ThrottleCounters(%s, %s) = %+v, %+v, %v", tc.a, tc.b, ca, cb, err)
			}
		}
	})
}
