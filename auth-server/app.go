package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/authcode"
	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/server"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/keys"
)

// app holds what every command shares: the migrated store and the signing keys.
type app struct {
	cfg    config
	log    *slog.Logger
	db     *db.DB
	store  *store.Store
	ring   *keyring.Ring   // in HS256 mode the RS256 ID-token lifecycle alone, nil without a KEK on PostgreSQL
	hs     tokens.HS256Key // HS256 mode only
	issuer *tokens.Issuer
	keySet server.KeySet
	// sealed seals the private signing keys and the TOTP secrets: nil only in HS256 mode on
	// PostgreSQL without KEY_ENCRYPTION_KEY, where TOTP enrolment is then unavailable.
	sealed *keys.Sealer
}

func (a *app) close() { _ = a.db.Close() }

// openApp connects (retrying for a while, so a server started with its database comes up
// when the database does), migrates, and prepares the keys.
func openApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	d, err := openWithRetry(ctx, cfg.DatabaseURL, cfg.DBMaxConns, log, db.WithPreparedStatements(cfg.DBPrepared))
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, d, db.AuthSchema); err != nil {
		_ = d.Close()
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: d, store: store.New(d, store.WithRevocations(cfg.SyncURLs, cfg.AccessTTL))}
	var ks tokens.KeySource
	if cfg.Algorithm == "HS256" {
		a.hs = tokens.NewHS256Key(cfg.SecretKey)
		ks, a.keySet = a.hs, a.hs
		if err := a.openIDTokenRing(); err != nil {
			_ = d.Close()
			return nil, err
		}
	} else {
		sealer, err := a.sealer()
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		a.ring = keyring.New(a.store, sealer, cfg.keyPolicy(), cfg.Algorithm, time.Now, log)
		ks, a.keySet = a.ring, a.ring
		a.sealed = sealer
	}
	if a.sealed == nil && (cfg.KEK != nil || strings.HasPrefix(cfg.DatabaseURL, "sqlite:")) {
		if a.sealed, err = a.sealer(); err != nil {
			_ = d.Close()
			return nil, err
		}
	}
	a.issuer = tokens.NewIssuer(cfg.Issuer, cfg.Audience, cfg.AccessTTL, ks, time.Now)
	if a.ring != nil {
		a.issuer = a.issuer.WithIDTokenKeys(a.ring)
	}
	return a, nil
}

// openIDTokenRing gives HS256 mode its key ring: access tokens are signed with SECRET_KEY, but
// ID tokens need an asymmetric key that clients can verify (OpenID Connect Discovery requires
// RS256), so the ring keeps an RS256 lifecycle and the JWKS publishes its keys only. It needs
// a key-encryption key: KEY_ENCRYPTION_KEY, or the generated one of the embedded SQLite store.
// On PostgreSQL without KEY_ENCRYPTION_KEY (which HS256 mode never required) there is no ring:
// no ID tokens, an empty JWKS, as before; a warning says so.
func (a *app) openIDTokenRing() error {
	if a.cfg.KEK == nil && strings.HasPrefix(a.cfg.DatabaseURL, "postgres") {
		a.log.Warn("ALGORITHM=HS256 on PostgreSQL without KEY_ENCRYPTION_KEY: no RS256 keys for ID tokens; set KEY_ENCRYPTION_KEY to issue them")
		return nil
	}
	sealer, err := a.sealer()
	if err != nil {
		return err
	}
	a.ring = keyring.New(a.store, sealer, a.cfg.keyPolicy(), a.cfg.Algorithm, time.Now, a.log)
	a.keySet = a.ring // its JWKS holds the RS256 keys alone: the secret is never published
	return nil
}

func (c config) keyPolicy() keys.Policy {
	return keys.Policy{PublishAhead: c.PublishAhead, AccessTTL: c.AccessTTL, JWKSMaxAge: c.JWKSMaxAge, RotateEvery: c.RotateEvery}
}

func openWithRetry(ctx context.Context, url string, maxConns int, log *slog.Logger, opts ...db.Option) (*db.DB, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := db.Open(ctx, url, maxConns, opts...)
		if err == nil || errors.Is(err, db.ErrBadURL) || time.Now().After(deadline) {
			return d, err
		}
		log.Warn("database not reachable yet, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sealer returns the key-encryption key's sealer.
func (a *app) sealer() (*keys.Sealer, error) {
	kek, err := a.kek()
	if err != nil {
		return nil, err
	}
	return keys.NewSealer(kek)
}

// codeSealer returns the sealer of authorization codes, keyed from the key-encryption key
// when there is one, else (HS256 on PostgreSQL without it) from SECRET_KEY: secrets every
// replica shares, so a code issued by one is exchanged at another.
func (a *app) codeSealer() (*authcode.Sealer, error) {
	if a.cfg.KEK == nil && !strings.HasPrefix(a.cfg.DatabaseURL, "sqlite:") {
		return authcode.New([]byte(a.cfg.SecretKey))
	}
	kek, err := a.kek()
	if err != nil {
		return nil, err
	}
	return authcode.New(kek)
}

// kek returns the key-encryption key. On the embedded default without KEY_ENCRYPTION_KEY, a
// key is generated next to the database file (mode 0600), with a warning.
func (a *app) kek() ([]byte, error) {
	if a.cfg.KEK != nil {
		return a.cfg.KEK, nil
	}
	dir := filepath.Dir(strings.TrimPrefix(a.cfg.DatabaseURL, "sqlite:"))
	path := filepath.Join(dir, "key-encryption-key")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		raw = []byte(hex.EncodeToString(b) + "\n")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		a.log.Warn("KEY_ENCRYPTION_KEY is not set: generated one for the embedded store; set it explicitly for production", "path", path)
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	kek, err := keys.ParseKEK(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kek, nil
}
