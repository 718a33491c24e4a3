package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
)

// startRelay runs the user-sync relay in the background until ctx ends and returns the func
// that wakes it after a committed user change (server.Deps.SyncNotify). Every replica runs
// one; they share the outbox through leases. With no SYNC_URLS it still purges old events.
func startRelay(ctx context.Context, a *app, log *slog.Logger, obs syncrelay.Observer) (notify func()) {
	r := syncrelay.New(syncrelay.Config{
		Targets:        a.cfg.SyncURLs,
		RetryBase:      a.cfg.SyncRetryBase,
		RetryMax:       a.cfg.SyncRetryMax,
		Lease:          a.cfg.SyncLease,
		RequestTimeout: min(10*time.Second, a.cfg.SyncLease/2),
	}, syncrelay.Deps{
		Store:    a.store,
		Tokens:   a.issuer,
		Log:      log.With("component", "sync_relay"),
		Now:      time.Now,
		Observer: obs,
	})
	go r.Run(ctx)
	return r.Notify
}
