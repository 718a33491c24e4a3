package envconf

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/db"
)

// MinSecretKey is the shortest SECRET_KEY accepted where one is required (HS256).
const MinSecretKey = 32

// MaxLeeway bounds CLOCK_LEEWAY: more would let expired tokens live noticeably longer.
const MaxLeeway = 5 * time.Minute

// CommonVars are the variables Common reads, for a server's list of flags.
func CommonVars() []string {
	return []string{"AUTH_ISSUER", "AUTH_AUDIENCE", "ALGORITHM", "SECRET_KEY", "DB_MAX_CONNS", "LOG_LEVEL", "DATA_DIR", "DB_PREPARED_STATEMENTS", "TRUSTED_PROXIES"}
}

// Common is the configuration both servers read, parsed and validated by one set of rules
// (CONTRACT §2), so that a value one server accepts the other does not refuse.
type Common struct {
	Issuer     string   // AUTH_ISSUER: an absolute http(s) URL, without a trailing slash
	Audience   []string // AUTH_AUDIENCE: at least one
	Algorithm  string   // ALGORITHM: ES256, RS256, EdDSA or HS256
	SecretKey  []byte   // SECRET_KEY, the bytes of the string; nil when unset
	DBMaxConns int      // DB_MAX_CONNS: at least 1
	LogLevel   string   // LOG_LEVEL: debug, info, warn or error
	DataDir    string   // DATA_DIR
	// DBPrepared is DB_PREPARED_STATEMENTS: auto, on or off (db.PreparedStatements).
	DBPrepared db.PreparedStatements
	// TrustedProxies (TRUSTED_PROXIES): the networks of the reverse proxies whose
	// X-Forwarded-For or Forwarded header names the client; none by default.
	TrustedProxies []netip.Prefix
}

// Common reads the shared variables, with the defaults of CONTRACT §2, and records against s
// the first bad value: an AUTH_ISSUER that is not an absolute http(s) URL, an empty
// AUTH_AUDIENCE, an unknown ALGORITHM, a SECRET_KEY under MinSecretKey bytes in HS256 mode,
// a DB_MAX_CONNS under 1, an unknown LOG_LEVEL.
func (s *Source) Common() Common {
	c := Common{
		Issuer:     strings.TrimRight(s.String("AUTH_ISSUER", "http://localhost:8080"), "/"),
		Audience:   s.List("AUTH_AUDIENCE", []string{"resource-server"}),
		Algorithm:  strings.ToUpper(s.String("ALGORITHM", "ES256")),
		DBMaxConns: s.Int("DB_MAX_CONNS", 16, 1),
		LogLevel:   strings.ToLower(s.String("LOG_LEVEL", "info")),
		DataDir:    s.String("DATA_DIR", "data"),
	}
	if c.Algorithm == "EDDSA" {
		c.Algorithm = "EdDSA"
	}
	if v := s.String("SECRET_KEY", ""); v != "" {
		c.SecretKey = []byte(v) // the bytes of the string, as the Python system used it
	}
	c.TrustedProxies = s.prefixes("TRUSTED_PROXIES")
	s.Check("AUTH_ISSUER", CheckHTTPURL(c.Issuer))
	if len(c.Audience) == 0 {
		s.Check("AUTH_AUDIENCE", errors.New("must name at least one audience"))
	}
	switch c.Algorithm {
	case "ES256", "RS256", "EdDSA":
	case "HS256":
		s.CheckSecret("SECRET_KEY", c.SecretKey, "HS256 needs a SECRET_KEY")
	default:
		s.Check("ALGORITHM", fmt.Errorf("unsupported %q (want ES256, RS256, EdDSA or HS256)", c.Algorithm))
	}
	var err error
	c.DBPrepared, err = db.ParsePreparedStatements(s.String("DB_PREPARED_STATEMENTS", "auto"))
	s.Check("DB_PREPARED_STATEMENTS", err)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		s.Check("LOG_LEVEL", fmt.Errorf("invalid %q (want debug, info, warn or error)", c.LogLevel))
	}
	return c
}

// prefixes reads name as a comma-separated list of CIDRs (a bare address counts as its own
// /32 or /128) and records the first that does not parse.
func (s *Source) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range s.List(name, nil) {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				s.Check(name, fmt.Errorf("invalid CIDR %q (want e.g. 10.0.0.0/8 or fd00::/8)", v))
				return nil
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// CheckSecret records against name that secret, needed for why, is shorter than
// MinSecretKey bytes.
func (s *Source) CheckSecret(name string, secret []byte, why string) {
	if len(secret) < MinSecretKey {
		s.Check(name, fmt.Errorf("%s of at least %d bytes, the same on the auth server and every resource server (have %d); make one with: openssl rand -hex 32",
			why, MinSecretKey, len(secret)))
	}
}

// ClockLeeway reads CLOCK_LEEWAY, the skew allowed on exp, nbf and iat: 30s by default, at
// most MaxLeeway.
func (s *Source) ClockLeeway() time.Duration {
	d := s.Duration("CLOCK_LEEWAY", 30*time.Second)
	if d > MaxLeeway {
		s.Check("CLOCK_LEEWAY", fmt.Errorf("%s is more than %s", d, MaxLeeway))
	}
	return d
}

// CheckHTTPURL returns an error unless u is an absolute http or https URL with a host.
func CheckHTTPURL(u string) error {
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("invalid %q (want an http(s) URL)", u)
	}
	return nil
}

// Logger returns the JSON logger of the configured LOG_LEVEL, writing to w.
func (c Common) Logger(w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel)) // validated by Common
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// Load is how both servers start reading their configuration: the flags in args for vars
// and the CommonVars not among them, the environment and ./.env (New), and the shared
// variables (Common). The server reads its own variables from the returned Source, then
// checks its Err.
func Load(vars []string, args []string, getenv func(string) string, stderr io.Writer) (*Source, Common, []string, error) {
	all := slices.Clone(vars)
	for _, v := range CommonVars() {
		if !slices.Contains(all, v) {
			all = append(all, v)
		}
	}
	src, rest, err := New(all, args, getenv, ".env", stderr)
	if err != nil {
		return nil, Common{}, nil, err
	}
	return src, src.Common(), rest, nil
}

// WantsHelp reports whether args ask for the usage: -h, --help or help anywhere.
func WantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			return true
		}
	}
	return false
}

// Command splits the positional arguments into the command, def when there is none, and its
// arguments.
func Command(rest []string, def string) (string, []string) {
	if len(rest) == 0 {
		return def, nil
	}
	return rest[0], rest[1:]
}
