package verifier

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type verifyCase struct {
	name    string
	cfg     func(*Config)                             // optional changes to f.config()
	token   func(t testing.TB, f *fixture) string     // minted after the clock moved
	want    error                                     // nil: must verify
	fetches int64                                     // JWKS requests Verify may cause
	check   func(t testing.TB, f *fixture, c *Claims) // optional, on success
}

// mintWith returns a token func signing with the fixture key chosen by pick.
func mintWith(pick func(f *fixture) testKey, edit func(o *jose.SignerOptions, c map[string]any)) func(testing.TB, *fixture) string {
	return func(t testing.TB, f *fixture) string { return f.mint(t, pick(f), edit) }
}

func es(f *fixture) testKey  { return f.es }
func gho(f *fixture) testKey { return f.gho }

func setClaim(name string, v any) func(*jose.SignerOptions, map[string]any) {
	return func(_ *jose.SignerOptions, c map[string]any) { c[name] = v }
}

func setHeader(name string, v any) func(*jose.SignerOptions, map[string]any) {
	return func(o *jose.SignerOptions, _ map[string]any) { o.WithHeader(jose.HeaderKey(name), v) }
}

func literal(s string) func(testing.TB, *fixture) string {
	return func(testing.TB, *fixture) string { return s }
}

// noneToken is an unsigned token with the given alg spelling.
func noneToken(alg, sig string) func(testing.TB, *fixture) string {
	return func(t testing.TB, f *fixture) string {
		return rawToken(t, map[string]any{"alg": alg, "typ": "at+jwt", "kid": f.es.kid}, f.claims(), sig)
	}
}

// hs256With signs with HS256 using key bytes derived from the fixture.
func hs256With(key func(t testing.TB, f *fixture) []byte) func(testing.TB, *fixture) string {
	return func(t testing.TB, f *fixture) string {
		opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", f.es.kid)
		return signWith(t, jose.HS256, key(t, f), opts, f.claims())
	}
}

func publicPEM(t testing.TB, f *fixture) []byte {
	der, err := x509.MarshalPKIXPublicKey(f.es.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func publicJWK(t testing.TB, f *fixture) []byte {
	b, err := json.Marshal(f.rs.jwk())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editToken applies edit to the three segments of a valid ES256 token.
func editToken(edit func(t testing.TB, f *fixture, parts []string)) func(testing.TB, *fixture) string {
	return func(t testing.TB, f *fixture) string {
		parts := strings.Split(f.mint(t, f.es, nil), ".")
		edit(t, f, parts)
		return strings.Join(parts, ".")
	}
}

func verifyCases() []verifyCase {
	cases := []verifyCase{
		{name: "valid ES256", token: mintWith(es, nil), check: func(t testing.TB, f *fixture, c *Claims) {
			if c.Subject != testSubject || c.SessionID != "session-1" || c.Email != "alice@example.com" ||
				c.KeyID != "es-1" || c.Algorithm != ES256 || c.Type != "at+jwt" ||
				!c.Expiry.Equal(f.clock.Now().Add(15*time.Minute)) {
				t.Errorf("claims = %+v", c)
			}
		}},
		{name: "valid RS256", token: mintWith(func(f *fixture) testKey { return f.rs }, nil)},
		{name: "valid EdDSA", token: mintWith(func(f *fixture) testKey { return f.ed }, nil)},
		{name: "aud array containing ours", token: mintWith(es, setClaim("aud", []string{"other", testAudience}))},
		{name: "typ application/at+jwt", token: mintWith(es, func(o *jose.SignerOptions, _ map[string]any) { o.WithType("application/at+jwt") })},
		{name: "typ upper case", token: mintWith(es, func(o *jose.SignerOptions, _ map[string]any) { o.WithType("AT+JWT") })},
		{name: "exp passed within leeway", token: func(t testing.TB, f *fixture) string {
			return f.mint(t, f.es, setClaim("exp", f.clock.Now().Add(-20*time.Second).Unix()))
		}},

		// Algorithm confusion (RFC 8725 §2.1, §3.1).
		{name: "alg none empty signature", token: noneToken("none", ""), want: ErrAlgorithm},
		{name: "alg None", token: noneToken("None", ""), want: ErrAlgorithm},
		{name: "alg NONE", token: noneToken("NONE", ""), want: ErrAlgorithm},
		{name: "alg nOnE with signature", token: noneToken("nOnE", "c2ln"), want: ErrAlgorithm},
		{name: "HS256 signed with public key PEM", token: hs256With(publicPEM), want: ErrAlgorithm},
		{name: "HS256 signed with public JWK bytes", token: hs256With(publicJWK), want: ErrAlgorithm},
		{name: "HS256 with public key bytes in legacy window", token: hs256With(publicPEM), want: ErrSignature,
			cfg: func(c *Config) {
				c.HS256Secret = []byte(strings.Repeat("s", 32))
				c.LegacyHS256Until = c.Now().Add(time.Hour)
			}},
		{name: "RS256 not configured", token: mintWith(func(f *fixture) testKey { return f.rs }, nil), want: ErrAlgorithm,
			cfg: func(c *Config) { c.Algorithms = []string{ES256} }},
		{name: "header alg differs from JWK alg", token: mintWith(es, setHeader("kid", "rs-1")), want: ErrAlgorithm},
		{name: "alg ES384", token: noneToken("ES384", "c2ln"), want: ErrAlgorithm},
		{name: "alg PS256", token: noneToken("PS256", "c2ln"), want: ErrAlgorithm},

		// Keys named by the token (RFC 8725 §3.10): refused, never fetched.
		{name: "embedded jwk", token: mintWith(gho, func(o *jose.SignerOptions, _ map[string]any) { o.EmbedJWK = true }), want: ErrAlgorithm},
		{name: "jku to trap", token: func(t testing.TB, f *fixture) string { return f.mint(t, f.gho, setHeader("jku", f.trap.URL)) }, want: ErrAlgorithm},
		{name: "x5u to trap", token: func(t testing.TB, f *fixture) string { return f.mint(t, f.gho, setHeader("x5u", f.trap.URL)) }, want: ErrAlgorithm},
		{name: "x5c", token: mintWith(gho, setHeader("x5c", []string{"MIIB"})), want: ErrAlgorithm},
		{name: "crit", token: mintWith(es, setHeader("crit", []string{"exp"})), want: ErrAlgorithm},

		// kid handling.
		{name: "unknown kid", token: mintWith(gho, nil), want: ErrUnknownKey, fetches: 1},
		{name: "kid path traversal", token: mintWith(gho, setHeader("kid", "../../etc/passwd")), want: ErrUnknownKey, fetches: 1},
		{name: "kid SQL", token: mintWith(gho, setHeader("kid", "' OR '1'='1'; DROP TABLE keys; --")), want: ErrUnknownKey, fetches: 1},
		{name: "kid 4 KiB", token: mintWith(gho, setHeader("kid", strings.Repeat("k", 4<<10))), want: ErrUnknownKey},
		{name: "kid missing", token: mintWith(es, func(o *jose.SignerOptions, _ map[string]any) { delete(o.ExtraHeaders, "kid") }), want: ErrUnknownKey},
		{name: "kid not a string", token: mintWith(es, setHeader("kid", 7)), want: ErrMalformed},

		// Cheap checks: rejected before any key lookup, so no fetch for an unknown kid.
		{name: "expired unknown kid", token: func(t testing.TB, f *fixture) string {
			return f.mint(t, f.gho, setClaim("exp", f.clock.Now().Add(-time.Minute).Unix()))
		}, want: ErrExpired},
		{name: "nbf in the future", token: func(t testing.TB, f *fixture) string {
			return f.mint(t, f.gho, setClaim("nbf", f.clock.Now().Add(time.Minute).Unix()))
		}, want: ErrNotYetValid},
		{name: "iat in the future", token: func(t testing.TB, f *fixture) string {
			return f.mint(t, f.gho, setClaim("iat", f.clock.Now().Add(time.Minute).Unix()))
		}, want: ErrNotYetValid},
		{name: "wrong iss", token: mintWith(gho, setClaim("iss", "https://evil.test")), want: ErrIssuer},
		{name: "wrong aud", token: mintWith(gho, setClaim("aud", []string{"other"})), want: ErrAudience},
		{name: "typ JWT", token: mintWith(gho, func(o *jose.SignerOptions, _ map[string]any) { o.WithType("JWT") }), want: ErrTokenType},
		{name: "typ sync+jwt", token: mintWith(gho, func(o *jose.SignerOptions, _ map[string]any) { o.WithType("sync+jwt") }), want: ErrTokenType},
		{name: "typ missing", token: mintWith(gho, func(o *jose.SignerOptions, _ map[string]any) { delete(o.ExtraHeaders, "typ") }), want: ErrTokenType},
		{name: "exp not a number", token: mintWith(es, setClaim("exp", "tomorrow")), want: ErrMalformed},

		// Integrity.
		{name: "tampered payload", token: editToken(func(t testing.TB, f *fixture, p []string) {
			c := f.claims()
			c["sub"] = "00000000-0000-0000-0000-000000000000"
			p[1] = strings.Split(rawToken(t, "", c, ""), ".")[1]
		}), want: ErrSignature},
		{name: "signed by another key under our kid", token: mintWith(gho, setHeader("kid", "es-1")), want: ErrSignature},
		{name: "truncated signature", token: editToken(func(t testing.TB, _ *fixture, p []string) {
			sig, err := base64.RawURLEncoding.DecodeString(p[2])
			if err != nil {
				t.Fatal(err)
			}
			p[2] = base64.RawURLEncoding.EncodeToString(sig[:len(sig)-1])
		}), want: ErrSignature},
		{name: "empty signature", token: editToken(func(_ testing.TB, _ *fixture, p []string) { p[2] = "" }), want: ErrSignature},
		{name: "non-canonical base64 signature", token: editToken(func(_ testing.TB, _ *fixture, p []string) {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, p[2][len(p[2])-1])
			p[2] = p[2][:len(p[2])-1] + string(alphabet[last^1]) // same bytes, other unused bits
		}), want: ErrMalformed},

		// Junk.
		{name: "16 KiB token", token: mintWith(es, setClaim("pad", strings.Repeat("p", 16<<10))), want: ErrMalformed},
		{name: "garbage", token: literal("not a token at all"), want: ErrMalformed},
		{name: "refresh token lookalike", token: literal(base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))), want: ErrMalformed},
		{name: "JWS JSON serialization", token: literal(`{"payload":"e30","signatures":[]}`), want: ErrMalformed},
		{name: "newline inside", token: editToken(func(_ testing.TB, _ *fixture, p []string) { p[1] = p[1][:5] + "\n" + p[1][5:] }), want: ErrMalformed},
		{name: "four segments", token: editToken(func(_ testing.TB, _ *fixture, p []string) { p[2] += ".x" }), want: ErrMalformed},
		{name: "payload not JSON", token: func(t testing.TB, f *fixture) string {
			return rawToken(t, map[string]any{"alg": ES256, "kid": f.es.kid, "typ": "at+jwt"}, "x", "c2ln")
		}, want: ErrMalformed},
		{name: "empty", token: literal(""), want: ErrMissingToken},
	}
	for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "sid"} {
		cases = append(cases, verifyCase{name: "missing " + claim, token: mintWith(gho, setClaim(claim, nil)), want: ErrMissingClaim})
	}
	return cases
}

// TestVerify is the catalogue of verification cases. Each case gets a new
// Verifier, then the clock moves past MinRefreshInterval so that an unknown kid
// would be allowed to trigger a JWKS fetch: fetches pins how many happen.
func TestVerify(t *testing.T) {
	f := newFixture(t)
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := startVerifier(t, cfg)
			f.clock.Advance(cfg.MinRefreshInterval + time.Second)
			token := tc.token(t, f)
			before := f.jwks.hits.Load()

			got, err := v.Verify(context.Background(), token)

			if tc.want == nil && err != nil {
				t.Fatalf("Verify: %v, want success", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
			if (err == nil) != (got != nil) {
				t.Fatalf("claims = %v with error %v", got, err)
			}
			if n := f.jwks.hits.Load() - before; n != tc.fetches {
				t.Errorf("JWKS fetches = %d, want %d", n, tc.fetches)
			}
			if tc.check != nil && got != nil {
				tc.check(t, f, got)
			}
		})
	}
	if n := f.trap.hits.Load(); n != 0 {
		t.Errorf("trap server got %d requests, want 0", n)
	}
}

func TestNewConfigErrors(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	base := func() Config {
		return Config{Issuer: testIssuer, Audience: []string{testAudience}, JWKSURL: "http://127.0.0.1:1/jwks"}
	}
	cases := []struct {
		name string
		edit func(*Config)
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }},
		{"no audience", func(c *Config) { c.Audience = nil }},
		{"empty audience", func(c *Config) { c.Audience = []string{""} }},
		{"alg none", func(c *Config) { c.Algorithms = []string{"none"} }},
		{"HS256 without secret", func(c *Config) { c.Algorithms = []string{HS256} }},
		{"HS256 mixed with ES256", func(c *Config) { c.Algorithms = []string{ES256, HS256}; c.HS256Secret = secret }},
		{"HS512", func(c *Config) { c.Algorithms = []string{"HS512"} }},
		{"short secret", func(c *Config) { c.HS256Secret = secret[:31] }},
		{"secret without legacy deadline", func(c *Config) { c.Algorithms = []string{ES256}; c.HS256Secret = secret }},
		{"no JWKS URL", func(c *Config) { c.JWKSURL = "" }},
		{"relative JWKS URL", func(c *Config) { c.JWKSURL = "/jwks.json" }},
		{"negative leeway", func(c *Config) { c.Leeway = -time.Second }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			if _, err := New(t.Context(), cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("New error = %v, want ErrConfig", err)
			}
		})
	}
	t.Run("skip flags allow empty issuer and audience", func(t *testing.T) {
		cfg := Config{HS256Secret: secret, InsecureSkipIssuerCheck: true, InsecureSkipAudienceCheck: true}
		if _, err := New(t.Context(), cfg); err != nil {
			t.Fatalf("New: %v", err)
		}
	})
}

func TestWithExpectations(t *testing.T) {
	f := newFixture(t)
	access := startVerifier(t, f.config())
	syncV := access.WithExpectations("sync+jwt", "user-sync")
	syncTok := f.mint(t, f.es, func(o *jose.SignerOptions, c map[string]any) {
		o.WithType("sync+jwt")
		c["aud"], c["sid"] = "user-sync", nil
	})
	accessTok := f.mint(t, f.es, nil)

	if _, err := syncV.Verify(t.Context(), syncTok); err != nil {
		t.Fatalf("sync verifier, sync token: %v", err)
	}
	if _, err := access.Verify(t.Context(), syncTok); !errors.Is(err, ErrTokenType) {
		t.Fatalf("access verifier, sync token: %v, want ErrTokenType", err)
	}
	if _, err := access.Verify(t.Context(), accessTok); err != nil {
		t.Fatalf("access verifier, access token: %v", err)
	}
	// accessTok is now cached; the shared cache must still apply syncV's expectations.
	if _, err := syncV.Verify(t.Context(), accessTok); !errors.Is(err, ErrTokenType) {
		t.Fatalf("sync verifier, cached access token: %v, want ErrTokenType", err)
	}
	wrongAud := f.mint(t, f.es, func(o *jose.SignerOptions, c map[string]any) { o.WithType("sync+jwt") })
	if _, err := syncV.Verify(t.Context(), wrongAud); !errors.Is(err, ErrAudience) {
		t.Fatalf("sync verifier, aud resource-server: %v, want ErrAudience", err)
	}
}
