package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

// Session cleanup: how often it runs, how many sessions one transaction deletes, and how long
// after its end a session is kept (a margin over clock skew between replicas, so a replica
// whose clock is behind never rotates a token of a session another one is deleting).
const (
	sessionCleanupEvery  = time.Minute
	sessionCleanupBatch  = 200
	sessionCleanupMargin = time.Minute
)

// startSessionCleanup deletes ended sessions (past SESSION_MAX_TTL, or past their newest
// refresh token's expiry) with their refresh tokens every minute, until ctx ends. Revoked
// sessions are kept until they end, so late replays of their tokens still get invalid_grant.
// It also deletes the login throttle counters that policy no longer counts. Every replica may
// run it: the deletes are idempotent.
func startSessionCleanup(ctx context.Context, a *app, policy throttle.Policy, log *slog.Logger) {
	go func() {
		t := time.NewTicker(sessionCleanupEvery)
		defer t.Stop()
		for {
			now := time.Now()
			cleanupSessions(ctx, a, log, now)
			pruneThrottle(ctx, a, policy, log, now)
			pruneMFAChallenges(ctx, a, log, now)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// cleanupSessions deletes, batch by batch, the sessions that ended before now minus the margin.
// After a full batch it rests as long as the batch took before the next, so that a backlog
// (a million ended sessions after an outage or an import) is worked off with the database
// busy half the time at most: each batch is a write transaction, and on SQLite every refresh
// waits for the one running (issue 19's cleanup row: refresh p99 during cleanup).
func cleanupSessions(ctx context.Context, a *app, log *slog.Logger, now time.Time) {
	total := 0
	for ctx.Err() == nil {
		began := time.Now()
		n, err := a.store.DeleteEndedSessions(ctx, now.Add(-sessionCleanupMargin), sessionCleanupBatch)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("session cleanup failed", "err", err)
			}
			return
		}
		total += n
		if n < sessionCleanupBatch {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Since(began)):
		}
	}
	if total > 0 {
		log.Info("ended sessions deleted", "count", total)
	}
}

// pruneThrottle deletes the login throttle counters that neither block nor count any more at
// now (throttle.Policy.ForgetBefore): without it the table grows with every failed login.
func pruneThrottle(ctx context.Context, a *app, policy throttle.Policy, log *slog.Logger, now time.Time) {
	n, err := a.store.PruneThrottle(ctx, policy.ForgetBefore(now))
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("throttle cleanup failed", "err", err)
	case n > 0:
		log.Info("expired throttle counters deleted", "count", n)
	}
}

// pruneMFAChallenges deletes the second steps of password log-ins that expired unused.
func pruneMFAChallenges(ctx context.Context, a *app, log *slog.Logger, now time.Time) {
	n, err := a.store.DeleteExpiredMFAChallenges(ctx, now.Add(-sessionCleanupMargin))
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("mfa challenge cleanup failed", "err", err)
	case n > 0:
		log.Info("expired mfa challenges deleted", "count", n)
	}
}
