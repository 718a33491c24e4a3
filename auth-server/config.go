package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/internal/envconf"
	"github.com/jwtauth/jwtauth/keys"
)

// configVars are every variable the auth server reads, each also a flag (--auth-addr …):
// those both servers read (envconf.CommonVars, which Load adds when missing) and its own.
// The last line are the Python system's names, accepted so its .env works unchanged. It is
// one literal list: deploy/source_test.go reads it.
var configVars = []string{
	"AUTH_ADDR", "AUTH_DATABASE_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "ALGORITHM", "SECRET_KEY",
	"KEY_ENCRYPTION_KEY", "ACCESS_TOKEN_TTL", "REFRESH_IDLE_TTL", "SESSION_MAX_TTL",
	"REFRESH_REUSE_GRACE", "JWKS_MAX_AGE", "KEY_PUBLISH_AHEAD", "KEY_ROTATE_EVERY", "SYNC_URLS",
	"SYNC_RETRY_BASE", "SYNC_RETRY_MAX", "SYNC_LEASE",
	"ARGON2_PARAMS", "DB_MAX_CONNS", "CORS_ORIGINS", "LOG_LEVEL", "DATA_DIR", "CLOCK_LEEWAY", "TRUSTED_PROXIES",
	"SMTP_URL", "SMTP_TIMEOUT", "MAIL_FROM", "MAIL_PRODUCT_NAME", "PUBLIC_URL",
	"REQUIRE_EMAIL_VERIFICATION", "PASSWORD_RESET_TTL",
	"AUTH_HOST", "AUTH_PORT", "AUTH_USER", "AUTH_PWD", "AUTH_DB", "APP_SERVICE_HOST",
}

// config is the parsed configuration of the auth server: the variables both servers read
// (issuer, audience, algorithm, secret, pool, log level, data folder), then its own.
type config struct {
	envconf.Common
	Addr           string
	DatabaseURL    string
	KEK            []byte // nil when unset
	AccessTTL      time.Duration
	Leeway         time.Duration // CLOCK_LEEWAY: skew allowed on exp, nbf, iat of the Bearer check
	RefreshIdleTTL time.Duration
	SessionMaxTTL  time.Duration
	ReuseGrace     time.Duration
	JWKSMaxAge     time.Duration
	PublishAhead   time.Duration
	RotateEvery    time.Duration
	SyncURLs       []string
	SyncRetryBase  time.Duration // first retry delay of a failed sync delivery
	SyncRetryMax   time.Duration // cap of its doubling
	SyncLease      time.Duration // how long a claimed delivery is reserved (SYNC_LEASE)
	Argon2         password.Params
	CORSOrigins    []string
	Mail           mailConfig // CONTRACT §11 (config_mail.go)
}

// loadConfig reads flags, environment and .env; a bad value is an error naming its variable.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	src, common, rest, err := envconf.Load(configVars, args, getenv, stderr)
	if err != nil {
		return config{}, nil, err
	}
	c := config{
		Common:         common,
		Addr:           src.String("AUTH_ADDR", ":8080"),
		AccessTTL:      src.Duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		Leeway:         src.ClockLeeway(),
		RefreshIdleTTL: src.Duration("REFRESH_IDLE_TTL", 168*time.Hour),
		SessionMaxTTL:  src.Duration("SESSION_MAX_TTL", 720*time.Hour),
		ReuseGrace:     src.Duration("REFRESH_REUSE_GRACE", 10*time.Second),
		JWKSMaxAge:     src.Duration("JWKS_MAX_AGE", 5*time.Minute),
		PublishAhead:   src.Duration("KEY_PUBLISH_AHEAD", 20*time.Minute),
		RotateEvery:    src.Duration("KEY_ROTATE_EVERY", 0),
		CORSOrigins:    src.List("CORS_ORIGINS", nil),
	}
	c.DatabaseURL = src.DatabaseURL("AUTH", "sqlite:"+c.DataDir+"/auth.db")
	c.SyncURLs = src.List("SYNC_URLS", nil)
	c.SyncRetryBase = src.Duration("SYNC_RETRY_BASE", time.Second)
	c.SyncRetryMax = src.Duration("SYNC_RETRY_MAX", 5*time.Minute)
	c.SyncLease = src.Duration("SYNC_LEASE", 30*time.Second)
	if c.SyncLease < 100*time.Millisecond {
		src.Check("SYNC_LEASE", fmt.Errorf("%s is too short (want at least 100ms)", c.SyncLease))
	}
	if c.SyncRetryBase <= 0 || c.SyncRetryMax < c.SyncRetryBase {
		src.Check("SYNC_RETRY_MAX", fmt.Errorf("want 0 < SYNC_RETRY_BASE (%s) <= SYNC_RETRY_MAX (%s)", c.SyncRetryBase, c.SyncRetryMax))
	}
	if _, set := src.Lookup("SYNC_URLS"); !set {
		c.SyncURLs = src.List("APP_SERVICE_HOST", []string{"http://localhost:8081/sync/users"})
	}
	src.Check("ARGON2_PARAMS", func() (err error) {
		c.Argon2, err = password.ParseParams(src.String("ARGON2_PARAMS", "m=19456,t=2,p=1"))
		return err
	}())
	if v := src.String("KEY_ENCRYPTION_KEY", ""); v != "" {
		kek, err := keys.ParseKEK(v)
		src.Check("KEY_ENCRYPTION_KEY", err)
		c.KEK = kek
	}
	validate(src, &c)
	c.Mail = loadMailConfig(src, c.Issuer)
	if err := src.Err(); err != nil {
		return config{}, nil, err
	}
	return c, rest, nil
}

// validate records the auth server's own rules of CONTRACT.md §2 against src (the shared
// ones are envconf.Common's).
func validate(src *envconf.Source, c *config) {
	if c.Algorithm != "HS256" && c.KEK == nil && strings.HasPrefix(c.DatabaseURL, "postgres") {
		src.Check("KEY_ENCRYPTION_KEY", errors.New("required with PostgreSQL and an asymmetric ALGORITHM, so every replica can open the signing keys (32 bytes as hex or base64: openssl rand -hex 32)"))
	}
	if c.AccessTTL <= 0 {
		src.Check("ACCESS_TOKEN_TTL", errors.New("must be positive"))
	}
	if c.RefreshIdleTTL <= 0 {
		src.Check("REFRESH_IDLE_TTL", errors.New("must be positive"))
	}
	if c.SessionMaxTTL <= 0 {
		src.Check("SESSION_MAX_TTL", errors.New("must be positive"))
	}
	if c.PublishAhead < c.JWKSMaxAge {
		src.Check("KEY_PUBLISH_AHEAD", fmt.Errorf("%s is shorter than JWKS_MAX_AGE %s: a verifier could still hold a JWKS without the next key when it starts signing", c.PublishAhead, c.JWKSMaxAge))
	}
	seen := map[string]bool{}
	for _, t := range c.SyncURLs {
		if seen[t] {
			src.Check("SYNC_URLS", fmt.Errorf("target %q is listed twice", t))
		}
		seen[t] = true
		if err := envconf.CheckHTTPURL(t); err != nil {
			src.Check("SYNC_URLS", fmt.Errorf("target: %w", err))
		}
	}
}
