package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestCleanupPrunesThrottle: the periodic cleanup deletes the throttle counters that the policy
// no longer counts (defect: the login_throttle table grew with every failed login, forever) and
// keeps the others.
func TestCleanupPrunesThrottle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, now := context.Background(), time.Now().UTC().Truncate(time.Millisecond)
		a := &app{db: d, store: store.New(d)}
		policy := throttle.DefaultPolicy()
		old := now.Add(-2 * policy.Account.Window)
		counters := map[string]throttle.Counter{
			"account:gone":    {Failures: 4, WindowStart: old},
			"address:gone":    {Failures: 30, WindowStart: old, BlockedUntil: old.Add(policy.Address.MaxDelay)},
			"account:live":    {Failures: 2, WindowStart: now.Add(-time.Minute)},
			"address:blocked": {Failures: 30, WindowStart: old, BlockedUntil: now.Add(time.Minute)},
		}
		keys := make([]string, 0, len(counters))
		for k := range counters {
			keys = append(keys, k)
		}
		if err := a.store.RecordFailure(ctx, func(k string, _ throttle.Counter) throttle.Counter { return counters[k] }, store.AuditEvent{At: now, Event: store.AuditLoginFailure}, keys...); err != nil {
			t.Fatal(err)
		}
		pruneThrottle(ctx, a, policy, slog.New(slog.NewTextHandler(io.Discard, nil)), now)
		for k, c := range counters {
			got, err := a.store.ThrottleCounter(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			wantKept := !policy.Account.Expired(c, now) || !policy.Address.Expired(c, now)
			if kept := got.Failures > 0; kept != wantKept {
				t.Errorf("%s: kept = %v, want %v (counter %+v)", k, kept, wantKept, c)
			}
		}
	})
}
