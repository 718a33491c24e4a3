package main

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/bearer"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/mailrelay"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/server"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/internal/httpapi"
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
		go a.ring.Run(ctx, keyPollInterval)
	}
	throttlePolicy := throttle.DefaultPolicy()
	startSessionCleanup(ctx, a, throttlePolicy, log)
	metrics := server.NewMetrics(httpapi.NewRegistry())
	hasher := password.NewHasher(cfg.Argon2, 0)
	metrics.WatchHasher(hasher.Stats)
	if a.ring != nil {
		metrics.WatchKeys(a.ring.StateCounts)
	}
	syncNotify := startRelay(ctx, a, log, metrics)
	bv, err := bearer.New(ctx, bearer.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithm: cfg.Algorithm,
		HS256Secret: cfg.SecretKey, Keys: a.keySet, Leeway: cfg.Leeway, Now: time.Now, Logger: log.With("component", "bearer")})
	if err != nil {
		return err
	}
	var mailRelay *mailrelay.Relay // set below, before any request can queue a mail
	// id_token_hint: ID tokens are checked on the ring's published keys, with any algorithm an
	// ID token may be signed with (RS256, or the one its client registered); the key set only
	// holds keys the ring publishes, each verifying only tokens of its own algorithm.
	var idv account.IDTokenVerifier
	var clientKeys account.ClientKeys
	if a.ring != nil {
		clientKeys = a.ring
		v, err := bearer.New(ctx, bearer.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, Algorithms: clients.IDTokenAlgs(), Keys: a.ring,
			Leeway: cfg.Leeway, Now: time.Now, Logger: log.With("component", "id_token_hint")})
		if err != nil {
			return err
		}
		idv = server.BearerVerifier{V: v}
	}
	codes, err := a.codeSealer()
	if err != nil {
		return err
	}
	var idTokens account.IDTokenSigner
	if a.ring != nil { // HS256 on PostgreSQL without KEY_ENCRYPTION_KEY has no ID-token keys
		idTokens = idTokenSigner{issuer: a.issuer}
	}
	accounts := account.New(account.Config{
		Throttle: throttlePolicy, SyncTargets: cfg.SyncURLs, Mail: cfg.mailPolicy(),
		Refresh:   refresh.Policy{IdleTTL: cfg.RefreshIdleTTL, MaxTTL: cfg.SessionMaxTTL, ReuseGrace: cfg.ReuseGrace},
		MFAIssuer: mfaIssuer(cfg.Issuer),
	}, account.Deps{
		Store: a.store, Hasher: hasher, Issuer: a.issuer, Observer: metrics.AccountObserver(),
		Verifier: server.BearerVerifier{V: bv}, Logger: log, Now: time.Now, SyncNotify: syncNotify,
		IDTokens:   idTokens,
		IDVerifier: idv,
		MailNotify: func() { mailRelay.Notify() },
		Sealer:     a.sealed,
		ClientKeys: clientKeys,
		Codes:      codes,
	})
	if mailRelay, err = newMailRelay(a, accounts, log); err != nil {
		return err
	}
	go mailRelay.Run(ctx)
	srv := server.New(server.Config{
		Issuer: cfg.Issuer, Algorithm: cfg.Algorithm, JWKSMaxAge: cfg.JWKSMaxAge, CORSOrigins: cfg.CORSOrigins,
		TrustedProxies: httpapi.NewTrustedProxies(cfg.TrustedProxies), ProductName: cfg.Mail.ProductName,
	}, server.Deps{Accounts: accounts, Store: a.store, Keys: a.keySet, Metrics: metrics, Logger: log})
	return httpapi.ListenAndServe(ctx, cfg.Addr, srv, log, "auth server listening",
		"issuer", cfg.Issuer, "algorithm", cfg.Algorithm, "kid", kidOf(a), "named_statements", a.db.NamedStatements())
}

// mfaIssuer is the name authenticator apps show for this server: the issuer URL's host.
func mfaIssuer(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return issuer
}

func kidOf(a *app) string {
	if a.ring != nil {
		return a.ring.CurrentKID()
	}
	return "shared secret"
}
