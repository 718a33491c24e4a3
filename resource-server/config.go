package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/envconf"
)

// configVars are every variable the resource server reads, each also a flag
// (--resource-addr …): those both servers read (envconf.CommonVars, which Load adds when
// missing) and its own. The second group are the Python system's names, accepted so its app
// service's .env works unchanged. It is one literal list: deploy/source_test.go reads it.
var configVars = []string{
	"RESOURCE_ADDR", "APP_DATABASE_URL", "JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "ALGORITHM",
	"SECRET_KEY", "LEGACY_HS256_UNTIL", "CLOCK_LEEWAY", "DB_MAX_CONNS", "LOG_LEVEL", "DATA_DIR", "TRUSTED_PROXIES",
	"APP_HOST", "APP_PORT", "APP_USER", "APP_PWD", "APP_DB",
}

// config is the parsed configuration of the resource server: the variables both servers read
// (issuer, audience, algorithm, secret, pool, log level, data folder), then its own.
type config struct {
	envconf.Common
	Addr        string
	DatabaseURL string
	JWKSURL     string
	LegacyUntil time.Time // zero when unset
	Leeway      time.Duration
}

// loadConfig reads flags, environment and .env; a bad value is an error naming its variable.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	src, common, rest, err := envconf.Load(configVars, args, getenv, stderr)
	if err != nil {
		return config{}, nil, err
	}
	c := config{
		Common:      common,
		Addr:        src.String("RESOURCE_ADDR", ":8081"),
		LegacyUntil: src.Time("LEGACY_HS256_UNTIL"),
		Leeway:      src.ClockLeeway(),
	}
	c.DatabaseURL = src.DatabaseURL("APP", "sqlite:"+c.DataDir+"/app.db")
	// The JWKS is where the issuer publishes it, unless told otherwise.
	c.JWKSURL = src.String("JWKS_URL", c.Issuer+"/.well-known/jwks.json")
	validate(src, &c)
	if err := src.Err(); err != nil {
		return config{}, nil, err
	}
	return c, rest, nil
}

// validate records the resource server's own rules of CONTRACT.md §2 against src (the
// shared ones are envconf.Common's).
func validate(src *envconf.Source, c *config) {
	switch c.Algorithm {
	case "ES256", "RS256", "EdDSA":
		src.Check("JWKS_URL", envconf.CheckHTTPURL(c.JWKSURL))
		if !c.LegacyUntil.IsZero() {
			src.CheckSecret("LEGACY_HS256_UNTIL", c.SecretKey, "accepting HS256 tokens needs the old SECRET_KEY")
		}
	}
	if u := c.DatabaseURL; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		src.Check("APP_DATABASE_URL", fmt.Errorf("unsupported %q (want postgres://… or sqlite:PATH)", db.Redact(u)))
	}
}

// hs256Secret is the secret the verifier gets: in HS256 mode, or in an asymmetric mode while
// LEGACY_HS256_UNTIL lets old HS256 tokens in. Otherwise a SECRET_KEY is not used.
func (c config) hs256Secret() []byte {
	if c.Algorithm == "HS256" || !c.LegacyUntil.IsZero() {
		return c.SecretKey
	}
	return nil
}
