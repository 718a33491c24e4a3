package verifier

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// maxJWKSSize bounds the JWKS response body.
const maxJWKSSize = 1 << 20

// minRSABits is the smallest RSA modulus accepted for RS256.
const minRSABits = 2048

// fetch fetches the JWKS once, reports the outcome, and returns the delay until
// the next periodic fetch. On failure the previous key set is kept.
func (ks *remoteKeySet) fetch(ctx context.Context) time.Duration {
	age, hasAge, n, err := ks.fetchOnce(ctx)
	ks.obs.JWKSRefresh(err)
	if err != nil {
		ks.failures++
		retry := min(ks.minInterval<<min(ks.failures-1, 10), maxRetryInterval)
		if !ks.loaded() {
			// Nothing verifies until the first load: retry soon (1s, 2s, 4s … up to
			// minInterval), e.g. when the resource server started before the auth server.
			retry = min(initialRetryInterval<<min(ks.failures-1, 10), ks.minInterval)
		}
		ks.log.WarnContext(ctx, "jwks refresh failed", "url", ks.url, "error", err,
			"keys_loaded", ks.loaded(), "retry_in", retry)
		return retry
	}
	ks.failures = 0
	next := nextInterval(age, hasAge, ks.minInterval)
	ks.log.DebugContext(ctx, "jwks refreshed", "url", ks.url, "keys", n, "next_refresh", next)
	return next
}

// nextInterval is the periodic refresh delay: the response's max-age clamped to
// [minInterval, 1h], or 5m when the response has no max-age.
func nextInterval(age time.Duration, hasAge bool, minInterval time.Duration) time.Duration {
	if !hasAge {
		age = defaultRefreshInterval
	}
	return max(min(age, maxRefreshInterval), minInterval)
}

// fetchOnce GETs the JWKS (conditionally, with the last ETag) and, on 200,
// replaces the whole key set so removed keys stop verifying.
func (ks *remoteKeySet) fetchOnce(ctx context.Context) (age time.Duration, hasAge bool, n int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return 0, false, 0, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if ks.etag != "" && ks.loaded() {
		req.Header.Set("If-None-Match", ks.etag)
	}
	resp, err := ks.client.Do(req)
	if err != nil {
		return 0, false, 0, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	age, hasAge = cacheMaxAge(resp.Header)
	switch {
	case resp.StatusCode == http.StatusNotModified && req.Header.Get("If-None-Match") != "":
		return age, hasAge, len(ks.snap.Load().keys), nil
	case resp.StatusCode != http.StatusOK:
		return 0, false, 0, fmt.Errorf("jwks fetch: unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return 0, false, 0, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxJWKSSize {
		return 0, false, 0, fmt.Errorf("jwks read: body larger than %d bytes", maxJWKSSize)
	}
	keys, err := ks.parseJWKS(ctx, body)
	if err != nil {
		return 0, false, 0, err
	}
	ks.snap.Store(&keySnapshot{keys: keys, loaded: true})
	ks.etag = resp.Header.Get("ETag")
	return age, hasAge, len(keys), nil
}

// parseJWKS decodes a JWK Set with the snapshot's keys as prev (see the function parseJWKS).
func (ks *remoteKeySet) parseJWKS(ctx context.Context, body []byte) (map[string]*Key, error) {
	return parseJWKS(ctx, body, ks.snap.Load().keys, ks.log)
}

// parseJWKS decodes a JWK Set, each key through keyfunc (and its jwkset
// storage), keeping the public part of every usable signing key. A key that is invalid, not for signing, without kid or
// alg, or whose material does not fit its alg is skipped with a warning; a
// duplicate kid keeps its first key. Keys unchanged since prev keep their *Key, so
// cache entries verified with them stay valid.
func parseJWKS(ctx context.Context, body []byte, prev map[string]*Key, log *slog.Logger) (map[string]*Key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`jwks decode: no "keys" member`)
	}
	keys := make(map[string]*Key, len(set.Keys))
	for _, raw := range set.Keys {
		var m jwkset.JWKMarshal
		if err := json.Unmarshal(raw, &m); err != nil {
			log.WarnContext(ctx, "jwks key skipped", "error", err)
			continue
		}
		k, err := toVerKey(ctx, m, raw)
		if err == nil && keys[k.kid] != nil {
			err = errors.New("duplicate kid")
		}
		if err != nil {
			log.WarnContext(ctx, "jwks key skipped", "kid", fmt.Sprintf("%.64q", m.KID), "error", err)
			continue
		}
		if old := prev[k.kid]; old != nil && old.equal(k) {
			k = old
		}
		keys[k.kid] = k
	}
	return keys, nil
}

// toVerKey converts one JWK (public part only; symmetric keys are refused by
// jwkset without the Private option) into a verification key.
func toVerKey(ctx context.Context, m jwkset.JWKMarshal, raw json.RawMessage) (*Key, error) {
	if m.KID == "" || len(m.KID) > maxKIDLen {
		return nil, errors.New("missing or oversized kid")
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("use %q is not sig", m.USE)
	}
	kf, err := keyfunc.NewJWKJSON(raw)
	if err != nil {
		return nil, err
	}
	jwks, err := kf.Storage().KeyReadAll(ctx)
	if err != nil || len(jwks) != 1 {
		return nil, fmt.Errorf("jwk: want one key (%v)", err)
	}
	material := jwks[0].Key()
	alg := m.ALG.String()
	if err := keyFitsAlg(material, alg); err != nil {
		return nil, err
	}
	return &Key{kid: m.KID, alg: alg, material: material}, nil
}

// keyFitsAlg pins key type, curve and size to the JWK's alg.
func keyFitsAlg(key any, alg string) error {
	ok := false
	switch alg {
	case ES256:
		k, isEC := key.(*ecdsa.PublicKey)
		ok = isEC && k.Curve == elliptic.P256()
	case RS256:
		k, isRSA := key.(*rsa.PublicKey)
		ok = isRSA && k.N.BitLen() >= minRSABits
	case EdDSA:
		_, ok = key.(ed25519.PublicKey)
	default:
		return fmt.Errorf("alg %q is missing or unsupported", alg)
	}
	if !ok {
		return fmt.Errorf("key of type %T does not fit alg %s", key, alg)
	}
	return nil
}

// equal reports whether two keys have the same kid, alg and public key.
func (k *Key) equal(o *Key) bool {
	pub, ok := k.material.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.kid == o.kid && k.alg == o.alg && pub.Equal(o.material)
}

// cacheMaxAge returns the max-age of a Cache-Control header; no-store and
// no-cache count as 0.
func cacheMaxAge(h http.Header) (time.Duration, bool) {
	for _, line := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(line, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "no-store" || d == "no-cache" {
				return 0, true
			}
			v, found := strings.CutPrefix(d, "max-age=")
			if !found {
				continue
			}
			secs, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 32)
			if err == nil && secs >= 0 {
				return time.Duration(secs) * time.Second, true
			}
		}
	}
	return 0, false
}
