package verifier

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Claims are the verified claims and header fields (Type, KeyID, Algorithm) of a
// token. A Claims value returned by Verify is the caller's own copy. The JSON
// tags use the claim names; times marshal as RFC 3339 strings.
type Claims struct {
	Issuer            string    `json:"iss"`
	Subject           string    `json:"sub"`
	Audience          []string  `json:"aud"`
	Expiry            time.Time `json:"exp"`
	IssuedAt          time.Time `json:"iat"`
	NotBefore         time.Time `json:"nbf,omitzero"` // zero when the token has no nbf
	ID                string    `json:"jti"`
	SessionID         string    `json:"sid,omitempty"`
	PreferredUsername string    `json:"preferred_username,omitempty"`
	Email             string    `json:"email,omitempty"`
	Type              string    `json:"typ"` // header typ as sent
	KeyID             string    `json:"kid,omitempty"`
	Algorithm         string    `json:"alg"`
}

func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	return &out
}

// Verifier verifies access tokens offline. It is safe for concurrent use.
type Verifier struct {
	exp     expectations
	leeway  time.Duration
	algs    []string // allowed asymmetric algorithms
	hsKey   *verKey  // HS256 key: HS256 mode or legacy window; nil otherwise
	hsMode  bool
	hsUntil time.Time // end of the legacy HS256 window
	now     func() time.Time
	log     *slog.Logger
	obs     Observer
	keys    *keySet // nil in HS256 mode
	cache   *tokenCache
}

// expectations are what WithExpectations changes.
type expectations struct {
	issuer     string
	audience   []string
	tokenType  string // normalised, see normalizeType
	skipIssuer bool
	skipAud    bool
}

// New validates cfg and returns a Verifier. In asymmetric mode it makes one
// attempt to fetch the JWKS (bounded by ctx and the HTTP client's timeout) and
// starts a background refresh goroutine that stops when ctx ends; an unreachable
// JWKS is not an error: Ready reports false until a fetch succeeds. After ctx
// ends, already loaded keys keep verifying but are no longer refreshed.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	if v.hsMode {
		return v, nil
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	minRefresh := cfg.MinRefreshInterval
	if minRefresh == 0 {
		minRefresh = DefaultMinRefreshInterval
	}
	v.keys = newKeySet(cfg.JWKSURL, client, minRefresh, v.now, v.log, v.obs)
	v.keys.start(ctx)
	return v, nil
}

func newVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		exp: expectations{
			issuer:     cfg.Issuer,
			audience:   slices.Clone(cfg.Audience),
			tokenType:  normalizeType(cmp.Or(cfg.TokenType, DefaultTokenType)),
			skipIssuer: cfg.InsecureSkipIssuerCheck,
			skipAud:    cfg.InsecureSkipAudienceCheck,
		},
		leeway:  cmp.Or(cfg.Leeway, DefaultLeeway),
		algs:    slices.Clone(cfg.Algorithms),
		hsMode:  cfg.hs256Mode(),
		hsUntil: cfg.LegacyHS256Until,
		now:     cfg.Now,
		log:     cfg.Logger,
		obs:     cfg.Observer,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.obs == nil {
		v.obs = nopObserver{}
	}
	if len(cfg.HS256Secret) > 0 {
		v.hsKey = &verKey{alg: HS256, material: bytes.Clone(cfg.HS256Secret)}
	}
	if v.hsMode {
		v.algs = nil
	} else if len(v.algs) == 0 {
		v.algs = []string{ES256}
	}
	if size := cmp.Or(cfg.CacheSize, DefaultCacheSize); size > 0 {
		v.cache = newTokenCache(size)
	}
	return v, nil
}

// WithExpectations returns a Verifier that shares v's key set, cache and
// settings but requires header typ tokenType and, when audience is non-empty,
// an aud containing one of audience (which also turns the audience check on).
// With no audience given, v's audience expectation is kept. Used for the
// auth server's sync calls: v.WithExpectations("sync+jwt", "user-sync").
func (v *Verifier) WithExpectations(tokenType string, audience ...string) *Verifier {
	w := *v
	w.exp.tokenType = normalizeType(cmp.Or(tokenType, DefaultTokenType))
	if len(audience) > 0 {
		w.exp.audience = slices.Clone(audience)
		w.exp.skipAud = false
	}
	return &w
}

// Ready reports whether the key set has been loaded at least once. It is always
// true in HS256 mode.
func (v *Verifier) Ready() bool {
	return v.hsMode || v.keys.loaded()
}

// Verify checks token and returns its claims. The order is: size, the
// verified-token cache, then an untrusted decode whose only use is to reject
// early (header, typ, times, iss, aud, required claims), then the key lookup
// (which may trigger one shared JWKS refresh for an unknown kid), then the
// signature. Errors wrap the sentinels of this package. ctx bounds only the wait
// for a key refresh.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrMalformed, MaxTokenSize)
	}
	now := v.now()
	if c, ok := v.cached(token, now); ok {
		if err := v.checkClaims(c, now); err != nil {
			return nil, err
		}
		return c.clone(), nil
	}
	c, key, err := v.verifyFull(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, cacheEntry{claims: c, key: key, expires: c.Expiry.Add(v.leeway)}, now, v.usable)
	}
	return c.clone(), nil
}

// cached returns the claims of a cache entry whose key is still usable.
func (v *Verifier) cached(token string, now time.Time) (*Claims, bool) {
	if v.cache == nil {
		return nil, false
	}
	e, ok := v.cache.get(token)
	if ok && !v.usable(e, now) {
		v.cache.remove(token)
		ok = false
	}
	if !ok {
		v.obs.CacheMiss()
		return nil, false
	}
	v.obs.CacheHit()
	return e.claims, true
}

// usable reports whether a cache entry may still be served: not expired, and its
// key is still the one published under its kid (or still within the HS256
// window).
func (v *Verifier) usable(e cacheEntry, now time.Time) bool {
	if !now.Before(e.expires) {
		return false
	}
	if e.key.alg == HS256 {
		return v.hsKey == e.key && v.hs256Allowed(now)
	}
	return v.keys != nil && v.keys.lookup(e.key.kid) == e.key
}

func (v *Verifier) hs256Allowed(now time.Time) bool {
	return v.hsMode || (v.hsKey != nil && now.Before(v.hsUntil))
}

// verifyFull does the cheap checks, the key lookup and the signature check.
func (v *Verifier) verifyFull(ctx context.Context, token string, now time.Time) (*Claims, *verKey, error) {
	p, err := parseUnverified(token)
	if err != nil {
		return nil, nil, err
	}
	if err := v.checkAlg(p.claims, now); err != nil {
		return nil, nil, err
	}
	if err := v.checkClaims(p.claims, now); err != nil {
		return nil, nil, err
	}
	key, err := v.keyFor(ctx, p.claims)
	if err != nil {
		return nil, nil, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(key.alg)})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	payload, err := jws.Verify(key.material)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	// The early checks ran on p.payload; trust them only if the verified bytes
	// are the same bytes.
	if !bytes.Equal(payload, p.payload) {
		return nil, nil, fmt.Errorf("%w: verified payload differs from decoded payload", ErrMalformed)
	}
	return p.claims, key, nil
}

// keyFor returns the key for the token's header: the HS256 secret, or the JWKS
// key named by kid, whose alg must equal the header alg.
func (v *Verifier) keyFor(ctx context.Context, c *Claims) (*verKey, error) {
	if c.Algorithm == HS256 {
		return v.hsKey, nil // checkHeader allowed HS256, so hsKey is set
	}
	if v.keys == nil {
		return nil, fmt.Errorf("%w: %s in HS256 mode", ErrAlgorithm, c.Algorithm)
	}
	k, err := v.keys.get(ctx, c.KeyID)
	if err != nil {
		return nil, err
	}
	if k.alg != c.Algorithm {
		return nil, fmt.Errorf("%w: header alg %s but key alg %s", ErrAlgorithm, c.Algorithm, k.alg)
	}
	return k, nil
}

type nopObserver struct{}

func (nopObserver) CacheHit()         {}
func (nopObserver) CacheMiss()        {}
func (nopObserver) JWKSRefresh(error) {}
