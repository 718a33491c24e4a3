package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/server"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

// keyPollInterval is how often a replica checks the key set's version: a change made
// elsewhere is in use here within this (well under the contract's 10 s).
const keyPollInterval = 2 * time.Second

// serve runs the HTTP server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.ring != nil {
		if err := a.ring.Bootstrap(ctx); err != nil {
			return err
		}
		a.ring.OnAutoRotate = func(ctx context.Context, res keyring.Result) {
			_ = a.store.Audit(ctx, store.AuditEvent{At: time.Now(), Event: store.AuditKeyRotated,
				Detail: fmt.Sprintf("current=%s retired=%s automatic=true", res.Current, res.Retired)})
		}
		go a.ring.Run(ctx, keyPollInterval)
	}
	throttlePolicy := throttle.DefaultPolicy()
	startSessionCleanup(ctx, a, throttlePolicy, log)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := server.NewMetrics(reg)
	hasher := password.NewHasher(cfg.Argon2, 0)
	metrics.WatchHasher(hasher.Stats)
	if a.ring != nil {
		metrics.WatchKeys(a.ring.StateCounts)
	}
	syncNotify := startRelay(ctx, a, log, metrics)
	srv := server.New(server.Config{
		Issuer: cfg.Issuer, Algorithm: cfg.Algorithm, JWKSMaxAge: cfg.JWKSMaxAge,
		SyncTargets: cfg.SyncURLs, CORSOrigins: cfg.CORSOrigins, Throttle: throttlePolicy,
		Refresh: refresh.Policy{IdleTTL: cfg.RefreshIdleTTL, MaxTTL: cfg.SessionMaxTTL, ReuseGrace: cfg.ReuseGrace},
	}, server.Deps{
		Store: a.store, Hasher: hasher, Issuer: a.issuer, Keys: a.keySet,
		Metrics: metrics, Logger: log, Now: time.Now, SyncNotify: syncNotify,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	log.Info("auth server listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "algorithm", cfg.Algorithm, "kid", kidOf(a))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func kidOf(a *app) string {
	if a.ring != nil {
		return a.ring.CurrentKID()
	}
	return "shared secret"
}
