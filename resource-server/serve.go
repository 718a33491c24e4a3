package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/internal/denylist"
	"github.com/jwtauth/jwtauth/resource-server/internal/server"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// openDB opens the app database and applies its migrations.
func openDB(ctx context.Context, cfg config, log *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, db.WithPreparedStatements(cfg.DBPrepared))
	if err != nil {
		return nil, fmt.Errorf("app database: %w", err)
	}
	if err := db.Migrate(ctx, d, db.AppSchema); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("app database: %w", err)
	}
	log.Info("app database ready", "url", db.Redact(cfg.DatabaseURL), "dialect", string(d.Dialect),
		"named_statements", d.NamedStatements())
	return d, nil
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	d, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the verifier's JWKS refresh
	metrics := server.NewMetrics(httpapi.NewRegistry(collectors.NewDBStatsCollector(d.DB.DB, "app")))
	warnUnusedSettings(cfg, log)
	store := appstore.New(d, time.Now)
	vc := verifierConfig(cfg, log, metrics)
	// Entries are kept as long as the verifier would accept their tokens: expiry plus leeway.
	deny := denylist.New(denylist.Config{Leeway: vc.Leeway}, store, metrics, log.With("component", "deny-list"), time.Now)
	if err := deny.Load(ctx); err != nil {
		return fmt.Errorf("deny-list: %w", err)
	}
	go deny.Run(ctx)
	vc.Revocations = deny
	v, err := verifier.New(ctx, vc)
	if err != nil {
		return fmt.Errorf("verifier: %w", err)
	}
	srv := server.New(server.Deps{Store: store, Verifier: v, DenyList: deny, Metrics: metrics, Logger: log,
		TrustedProxies: httpapi.NewTrustedProxies(cfg.TrustedProxies)})
	return httpapi.ListenAndServe(ctx, cfg.Addr, srv, log, "resource server listening",
		"issuer", cfg.Issuer, "algorithm", cfg.Algorithm, "jwks_url", jwksURLOf(cfg), "keys_loaded", v.Ready())
}

// verifierConfig maps the configuration onto the verifier: HS256 mode verifies with
// SECRET_KEY and no JWKS; an asymmetric ALGORITHM uses the JWKS and, until
// LEGACY_HS256_UNTIL, also accepts HS256 tokens signed with SECRET_KEY.
func verifierConfig(cfg config, log *slog.Logger, obs verifier.Observer) verifier.Config {
	vc := verifier.Config{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithms: []string{cfg.Algorithm},
		HS256Secret: cfg.hs256Secret(), Leeway: cfg.Leeway, Now: time.Now,
		Logger: log.With("component", "verifier"), Observer: obs,
	}
	if cfg.Leeway == 0 {
		vc.Leeway = time.Nanosecond // the verifier reads 0 as its default, 30s
	}
	if cfg.Algorithm != "HS256" {
		vc.JWKSURL = cfg.JWKSURL
		vc.LegacyHS256Until = cfg.LegacyUntil
	}
	return vc
}

// warnUnusedSettings logs settings that are valid but have no effect in this mode.
func warnUnusedSettings(cfg config, log *slog.Logger) {
	switch {
	case cfg.Algorithm == "HS256" && !cfg.LegacyUntil.IsZero():
		log.Warn("LEGACY_HS256_UNTIL ignored: ALGORITHM is HS256, every token is verified with SECRET_KEY")
	case cfg.Algorithm != "HS256" && cfg.LegacyUntil.IsZero() && len(cfg.SecretKey) > 0:
		log.Warn("SECRET_KEY ignored: HS256 tokens are refused with an asymmetric ALGORITHM unless LEGACY_HS256_UNTIL is set")
	case cfg.Algorithm != "HS256" && !cfg.LegacyUntil.IsZero():
		log.Info("accepting legacy HS256 tokens", "until", cfg.LegacyUntil.UTC().Format(time.RFC3339))
	}
}

func jwksURLOf(cfg config) string {
	if cfg.Algorithm == "HS256" {
		return "none (HS256 shared secret)"
	}
	return cfg.JWKSURL
}
