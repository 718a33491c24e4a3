package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/envconf"
)

// configVars are every variable the resource server reads, each also a flag
// (--resource-addr …). The second group are the Python system's names, accepted so its app
// service's .env works unchanged.
var configVars = []string{
	"RESOURCE_ADDR", "APP_DATABASE_URL", "JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "ALGORITHM",
	"SECRET_KEY", "LEGACY_HS256_UNTIL", "CLOCK_LEEWAY", "DB_MAX_CONNS", "LOG_LEVEL", "DATA_DIR",
	"APP_HOST", "APP_PORT", "APP_USER", "APP_PWD", "APP_DB",
}

// maxLeeway bounds CLOCK_LEEWAY: more would let expired tokens live noticeably longer.
const maxLeeway = 5 * time.Minute

// config is the parsed configuration of the resource server.
type config struct {
	Addr        string
	DatabaseURL string
	JWKSURL     string
	Issuer      string
	Audience    []string
	Algorithm   string
	SecretKey   []byte
	LegacyUntil time.Time // zero when unset
	Leeway      time.Duration
	DBMaxConns  int
	LogLevel    string
	DataDir     string
}

// loadConfig reads flags, environment and .env; a bad value is an error naming its variable.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	src, rest, err := envconf.New(configVars, args, getenv, ".env", stderr)
	if err != nil {
		return config{}, nil, err
	}
	c := config{
		Addr:        src.String("RESOURCE_ADDR", ":8081"),
		Issuer:      strings.TrimRight(src.String("AUTH_ISSUER", "http://localhost:8080"), "/"),
		Audience:    src.List("AUTH_AUDIENCE", []string{"resource-server"}),
		Algorithm:   strings.ToUpper(src.String("ALGORITHM", "ES256")),
		LegacyUntil: src.Time("LEGACY_HS256_UNTIL"),
		Leeway:      src.Duration("CLOCK_LEEWAY", 30*time.Second),
		DBMaxConns:  src.Int("DB_MAX_CONNS", 16, 1),
		LogLevel:    strings.ToLower(src.String("LOG_LEVEL", "info")),
		DataDir:     src.String("DATA_DIR", "data"),
	}
	if c.Algorithm == "EDDSA" {
		c.Algorithm = "EdDSA"
	}
	c.DatabaseURL = src.DatabaseURL("APP", "sqlite:"+c.DataDir+"/app.db")
	// The JWKS is where the issuer publishes it, unless told otherwise.
	c.JWKSURL = src.String("JWKS_URL", c.Issuer+"/.well-known/jwks.json")
	if v := src.String("SECRET_KEY", ""); v != "" {
		c.SecretKey = []byte(v) // the bytes of the string, as the Python system used it
	}
	validate(src, &c)
	if err := src.Err(); err != nil {
		return config{}, nil, err
	}
	return c, rest, nil
}

// validate records the cross-field rules of CONTRACT.md §2 against src.
func validate(src *envconf.Source, c *config) {
	switch c.Algorithm {
	case "HS256":
		if len(c.SecretKey) < 32 {
			src.Check("SECRET_KEY", fmt.Errorf("HS256 needs a SECRET_KEY of at least 32 bytes (have %d), the auth server's", len(c.SecretKey)))
		}
	case "ES256", "RS256", "EdDSA":
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			src.Check("JWKS_URL", fmt.Errorf("invalid %q (want an http(s) URL)", c.JWKSURL))
		}
		if !c.LegacyUntil.IsZero() && len(c.SecretKey) < 32 {
			src.Check("LEGACY_HS256_UNTIL", fmt.Errorf("accepting HS256 tokens needs the old SECRET_KEY of at least 32 bytes (have %d)", len(c.SecretKey)))
		}
	default:
		src.Check("ALGORITHM", fmt.Errorf("unsupported %q (want ES256, RS256, EdDSA or HS256)", c.Algorithm))
	}
	if u := c.DatabaseURL; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		src.Check("APP_DATABASE_URL", fmt.Errorf("unsupported %q (want postgres://… or sqlite:PATH)", db.Redact(u)))
	}
	if c.Issuer == "" {
		src.Check("AUTH_ISSUER", errors.New("must not be empty"))
	}
	if len(c.Audience) == 0 {
		src.Check("AUTH_AUDIENCE", errors.New("must name at least one audience"))
	}
	if c.Leeway > maxLeeway {
		src.Check("CLOCK_LEEWAY", fmt.Errorf("%s is more than %s", c.Leeway, maxLeeway))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		src.Check("LOG_LEVEL", fmt.Errorf("invalid %q (want debug, info, warn or error)", c.LogLevel))
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
