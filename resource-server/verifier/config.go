package verifier

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// Algorithm names accepted in Config.Algorithms. HS256 is accepted only alone
// (HS256 mode) or through Config.LegacyHS256Until.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	EdDSA = "EdDSA"
	HS256 = "HS256"
)

// Default values applied by New for zero Config fields.
const (
	DefaultTokenType          = accesstoken.Type
	DefaultLeeway             = accesstoken.DefaultLeeway
	DefaultHTTPTimeout        = 10 * time.Second
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultCacheSize          = 10000
	// MinHS256SecretLen is the shortest HS256 secret New accepts (RFC 7518 §3.2).
	MinHS256SecretLen = 32
)

// Config configures a Verifier. The zero value of each optional field selects the
// default named in its comment.
type Config struct {
	// Issuer is the exact required iss. Required unless InsecureSkipIssuerCheck.
	Issuer string
	// Audience: the token's aud must contain at least one of these. Required
	// unless InsecureSkipAudienceCheck.
	Audience []string
	// JWKSURL is where the public keys are fetched from. Required unless in
	// HS256 mode or with KeySet. Only this URL is ever fetched; nothing named in a
	// token is.
	JWKSURL string
	// KeySet, instead of JWKSURL, gives the keys of asymmetric mode from elsewhere,
	// e.g. a StaticKeySet of a JWKS document at hand (the auth server checks its own
	// tokens so). Algorithms still pins the algorithms; HS256Secret and
	// LegacyHS256Until combine with it as with JWKSURL. Not with HS256 mode.
	KeySet KeySet
	// Algorithms are the allowed asymmetric algorithms (ES256, RS256, EdDSA).
	// This defaults to {"ES256"}. "none" and HS* are refused, except {"HS256"}
	// alone together with HS256Secret, which selects HS256 mode.
	Algorithms []string
	// HS256Secret, with Algorithms empty or {"HS256"}, selects HS256 mode: tokens
	// are verified with this shared secret (at least 32 bytes) and no JWKS is
	// used. With asymmetric Algorithms it needs LegacyHS256Until.
	HS256Secret []byte
	// LegacyHS256Until, in asymmetric mode with HS256Secret set, also accepts
	// HS256 tokens (fresh or cached) until this instant, by Now, for migrating
	// off HS256. Such tokens must carry the same typ and claims as the others.
	LegacyHS256Until time.Time
	// TokenType is the required header typ, compared case-insensitively, with an
	// optional "application/" prefix. This defaults to "at+jwt". For "at+jwt" the
	// sid claim is required too.
	TokenType string
	// Leeway is the clock skew allowed on exp, nbf and iat. This defaults to 30s
	// (so 0 means 30s; use time.Nanosecond for practically none); negative values
	// are refused.
	Leeway time.Duration
	// HTTPClient fetches the JWKS. This defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// MinRefreshInterval: an unknown kid triggers at most one JWKS fetch per this
	// interval, shared by all requests waiting on it. It is also the floor of the
	// background refresh interval. The interval is measured with Now (the
	// background schedule runs on real timers). This defaults to 30s.
	MinRefreshInterval time.Duration
	// CacheSize bounds the verified-token cache. This defaults to 10000 entries;
	// a negative value disables the cache.
	CacheSize int
	// Now is the clock. This defaults to time.Now.
	Now func() time.Time
	// Logger receives JWKS refresh events (never tokens). This defaults to
	// discarding everything.
	Logger *slog.Logger
	// Observer receives cache and refresh events, e.g. for Prometheus metrics.
	// nil means none.
	Observer Observer
	// Revocations, when set, is asked about every verified token: a revoked one fails
	// with ErrRevoked (e.g. a MemoryRevocations fed by RevocationHandler). nil checks none.
	Revocations RevocationChecker
	// InsecureSkipIssuerCheck accepts any iss. Safe only when the key set (or
	// secret) is used by exactly one issuer, so that a valid signature already
	// proves the issuer. iss must still be present.
	InsecureSkipIssuerCheck bool
	// InsecureSkipAudienceCheck accepts any aud. Safe only when every token
	// the issuer signs with these keys is meant for this service; otherwise a
	// token minted for another service would be accepted here. aud must still be
	// present.
	InsecureSkipAudienceCheck bool
}

// Observer is notified of cache lookups and JWKS fetches. Implementations must
// be safe for concurrent use and fast; they are called inline.
type Observer interface {
	// CacheHit is called when Verify finds the token in the verified-token cache.
	CacheHit()
	// CacheMiss is called when the token is not in the cache (or its entry is no
	// longer usable). Neither is called when the cache is disabled.
	CacheMiss()
	// JWKSRefresh is called after each JWKS fetch with its error (nil on success).
	JWKSRefresh(err error)
}

func (cfg Config) hs256Mode() bool {
	return len(cfg.HS256Secret) > 0 &&
		(len(cfg.Algorithms) == 0 || slices.Equal(cfg.Algorithms, []string{HS256}))
}

func (cfg Config) validate() error {
	if cfg.Issuer == "" && !cfg.InsecureSkipIssuerCheck {
		return fmt.Errorf("%w: Issuer is required", ErrConfig)
	}
	if (len(cfg.Audience) == 0 || slices.Contains(cfg.Audience, "")) && !cfg.InsecureSkipAudienceCheck {
		return fmt.Errorf("%w: Audience is required and must not contain empty strings", ErrConfig)
	}
	if cfg.Leeway < 0 || cfg.MinRefreshInterval < 0 {
		return fmt.Errorf("%w: Leeway and MinRefreshInterval must not be negative", ErrConfig)
	}
	if len(cfg.HS256Secret) > 0 && len(cfg.HS256Secret) < MinHS256SecretLen {
		return fmt.Errorf("%w: HS256Secret must be at least %d bytes", ErrConfig, MinHS256SecretLen)
	}
	if cfg.hs256Mode() {
		if cfg.KeySet != nil {
			return fmt.Errorf("%w: KeySet is not used in HS256 mode", ErrConfig)
		}
		return nil
	}
	for _, a := range cfg.Algorithms {
		if a != ES256 && a != RS256 && a != EdDSA {
			return fmt.Errorf("%w: algorithm %q not allowed (use ES256, RS256, EdDSA, or HS256 alone with HS256Secret)", ErrConfig, a)
		}
	}
	if len(cfg.HS256Secret) > 0 && cfg.LegacyHS256Until.IsZero() {
		return fmt.Errorf("%w: HS256Secret with asymmetric Algorithms requires LegacyHS256Until", ErrConfig)
	}
	if cfg.KeySet != nil {
		if cfg.JWKSURL != "" {
			return fmt.Errorf("%w: give KeySet or JWKSURL, not both", ErrConfig)
		}
		return nil
	}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: JWKSURL must be an absolute http(s) URL", ErrConfig)
	}
	return nil
}
