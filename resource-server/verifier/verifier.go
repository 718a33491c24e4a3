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

	"github.com/jwtauth/jwtauth/internal/accesstoken"
)

// Claims are the verified claims and header fields (Type, KeyID, Algorithm) of a
// token: the access token's definition (internal/accesstoken), re-exported. A Claims value
// returned by Verify is the caller's own copy. The JSON tags use the claim names; times
// marshal as RFC 3339 strings. Its methods HasScope and HasRole read the scope and roles
// claims.
type Claims = accesstoken.Claims

// Verifier verifies access tokens offline. It is safe for concurrent use.
type Verifier struct {
	exp    expectations
	leeway time.Duration
	algs   []string // allowed algorithms (HS256 included in HS256 mode or the legacy window)
	now    func() time.Time
	log    *slog.Logger
	obs    Observer
	keys   KeySet
	cache  *tokenCache
	revs   RevocationChecker // nil: no revocation check
}

// expectations are what WithExpectations changes.
type expectations struct {
	issuer     string
	audience   []string
	tokenType  string // normalised, see normalizeType
	skipIssuer bool
	skipAud    bool
}

// New validates cfg and returns a Verifier. With Config.JWKSURL it makes one
// attempt to fetch the JWKS (bounded by ctx and the HTTP client's timeout) and
// starts a background refresh goroutine that stops when ctx ends; an unreachable
// JWKS is not an error: Ready reports false until a fetch succeeds. After ctx
// ends, already loaded keys keep verifying but are no longer refreshed.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v, err := newVerifier(cfg)
	if err != nil {
		return nil, err
	}
	if v.keys, err = v.keySet(ctx, cfg); err != nil {
		return nil, err
	}
	return v, nil
}

// keySet builds the key set cfg describes: the HS256 secret alone (HS256 mode), or
// cfg.KeySet or the remote JWKS, with the HS256 secret beside it until LegacyHS256Until.
func (v *Verifier) keySet(ctx context.Context, cfg Config) (KeySet, error) {
	if cfg.hs256Mode() {
		return NewHS256KeySet(cfg.HS256Secret)
	}
	primary := cfg.KeySet
	if primary == nil {
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultHTTPTimeout}
		}
		remote := newRemoteKeySet(cfg.JWKSURL, client, cmp.Or(cfg.MinRefreshInterval, DefaultMinRefreshInterval), v.now, v.log, v.obs)
		remote.start(ctx)
		primary = remote
	}
	if len(cfg.HS256Secret) == 0 {
		return primary, nil
	}
	hs, err := NewHS256KeySet(cfg.HS256Secret)
	if err != nil {
		return nil, err
	}
	return LegacyHS256(primary, hs, cfg.LegacyHS256Until), nil
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
		leeway: cmp.Or(cfg.Leeway, DefaultLeeway),
		algs:   slices.Clone(cfg.Algorithms),
		now:    cfg.Now,
		log:    cfg.Logger,
		obs:    cfg.Observer,
		revs:   cfg.Revocations,
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
	switch {
	case cfg.hs256Mode():
		v.algs = []string{HS256}
	case len(v.algs) == 0:
		v.algs = []string{ES256}
	}
	if !cfg.hs256Mode() && len(cfg.HS256Secret) > 0 {
		v.algs = append(v.algs, HS256) // the legacy window; LegacyHS256 ends it
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

// Ready reports whether the key set can verify tokens: the JWKS has been loaded at
// least once. It is always true in HS256 mode and for a StaticKeySet.
func (v *Verifier) Ready() bool {
	return v.keys.Ready()
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
		return v.unlessRevoked(c)
	}
	c, key, err := v.verifyFull(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, cacheEntry{claims: c, key: key, expires: c.Expiry.Add(v.leeway)}, now, v.usable)
	}
	return v.unlessRevoked(c)
}

// unlessRevoked returns a copy of the verified claims c, or ErrRevoked. It runs after the
// cache too: a revocation applies to tokens verified before it.
func (v *Verifier) unlessRevoked(c *Claims) (*Claims, error) {
	if v.revs != nil && v.revs.Revoked(c) {
		return nil, ErrRevoked
	}
	return c.Clone(), nil
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
// key still held by the key set (for HS256 in the legacy window: the window still
// open).
func (v *Verifier) usable(e cacheEntry, now time.Time) bool {
	return now.Before(e.expires) && v.keys.Holds(e.key, now)
}

// verifyFull does the cheap checks, the key lookup and the signature check.
func (v *Verifier) verifyFull(ctx context.Context, token string, now time.Time) (*Claims, *Key, error) {
	p, err := parseUnverified(token)
	if err != nil {
		return nil, nil, err
	}
	if err := v.checkAlg(p.claims); err != nil {
		return nil, nil, err
	}
	if err := v.checkClaims(p.claims, now); err != nil {
		return nil, nil, err
	}
	key, err := v.keyFor(ctx, p.claims, now)
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

// keyFor asks the key set for the token's key, whose alg must equal the header alg.
func (v *Verifier) keyFor(ctx context.Context, c *Claims, now time.Time) (*Key, error) {
	k, err := v.keys.Key(ctx, c.Algorithm, c.KeyID, now)
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
