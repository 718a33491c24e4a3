package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
	"github.com/jwtauth/jwtauth/keys"
)

// Minting tokens outside the auth server: with the server's own signing key (unsealed from its
// database with testKEK), for tokens the server would never issue (skewed clocks, hostile
// claims), and with keys of the test's own, for forgeries.

// authDBURL is the database URL of an auth server started by the harness: its
// AUTH_DATABASE_URL, or the embedded SQLite default in its working directory.
func authDBURL(p *Proc) string {
	if u := p.env["AUTH_DATABASE_URL"]; u != "" {
		return u
	}
	return "sqlite:" + filepath.Join(p.Dir, "data", "auth.db")
}

// serverKey reads the auth server's key in state (e.g. "current") from its database and
// unseals it with testKEK, as the server does. The returned key carries the kid, so tokens
// minted with it name the key as the server's own tokens do.
func serverKey(t testing.TB, p *Proc, state keys.State) jose.SigningKey {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := authDBURL(p)
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(url), err)
	}
	defer d.Close()
	var kid, alg, sealed string
	err = d.QueryRowContext(ctx, d.Rebind(`SELECT kid, alg, private_sealed FROM signing_keys WHERE state = ?`), string(state)).
		Scan(&kid, &alg, &sealed)
	if err != nil {
		t.Fatalf("read the %s signing key: %v", state, err)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatalf("key %s: private_sealed is not base64: %v", kid, err)
	}
	kek, err := keys.ParseKEK(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := sealer.SigningKey(keys.Key{KID: kid, Alg: alg, Sealed: raw})
	if err != nil {
		t.Fatalf("unseal key %s: %v", kid, err)
	}
	return sk
}

// ownKey generates a key of the test's own for alg (ES256, RS256 or EdDSA) with kid ("" for
// none): a forger's key, never published by the auth server.
func ownKey(t testing.TB, alg, kid string) jose.SigningKey {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("ownKey: unsupported alg %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"}
	return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jwk}
}

// publicJWK is the public JWK of a key made by ownKey or serverKey.
func publicJWK(t testing.TB, k jose.SigningKey) jose.JSONWebKey {
	t.Helper()
	jwk, ok := k.Key.(jose.JSONWebKey)
	if !ok {
		t.Fatalf("publicJWK: key of type %T", k.Key)
	}
	return jwk.Public()
}

// accessClaims are valid access-token claims for the auth server p, as it would issue them at
// now (a fresh sub, sid and jti): an accesstoken.Payload, as a map so that tests can change a
// copy to make them invalid. aud stays an array, as the tests have always sent it.
func accessClaims(p *Proc, now time.Time) map[string]any {
	aud := p.env["AUTH_AUDIENCE"]
	if aud == "" {
		aud = "resource-server"
	}
	name := "minted-" + uuid.NewString()[:8]
	pl := accesstoken.Payload{
		Issuer: p.env["AUTH_ISSUER"], Subject: uuid.NewString(), Audience: []string{aud},
		ID: uuid.NewString(), SessionID: uuid.NewString(), AMR: []string{accesstoken.AMRPassword},
		PreferredUsername: name, Email: name + "@example.com",
		ClientID: "first-party", Scope: "openid profile email notes:read notes:write",
	}
	pl.SetTimes(now, 15*time.Minute)
	raw, err := json.Marshal(pl)
	if err != nil {
		panic(err) // a Payload always encodes
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	m["aud"] = []string{aud}
	return m
}

// with returns a copy of claims with the given members set (a nil value deletes one).
func with(claims map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// hdr is a set of JOSE header members for mint; a nil value removes a member mint would
// otherwise set (typ).
type hdr map[string]any

// mint signs claims with k through go-jose. The header has alg, the key's kid (when it has
// one) and typ "at+jwt", then extra over them: extra may replace any member, alg and kid
// included, or remove typ with a nil value.
func mint(t testing.TB, k jose.SigningKey, claims map[string]any, extra hdr) string {
	t.Helper()
	headers := map[jose.HeaderKey]any{"typ": "at+jwt"}
	for name, v := range extra {
		if v == nil {
			delete(headers, jose.HeaderKey(name))
		} else {
			headers[jose.HeaderKey(name)] = v
		}
	}
	signer, err := jose.NewSigner(k, &jose.SignerOptions{ExtraHeaders: headers})
	if err != nil {
		t.Fatalf("mint: signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("mint: sign: %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hmacKey is an HS256 key over secret (with kid, when not empty).
func hmacKey(secret []byte, kid string) jose.SigningKey {
	return jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: kid, Algorithm: "HS256"}}
}

// rawJWS assembles a compact JWS by hand from a header, claims and signature bytes, for
// what no library will sign (alg "none").
func rawJWS(t testing.TB, header, claims map[string]any, sig []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString(sig)
}

// pemOf is the PKIX PEM ("PUBLIC KEY") of a public JWK.
func pemOf(t testing.TB, jwk jose.JSONWebKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(jwk.Key)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// publishedJWK returns the auth server's published JWK with kid, exactly as the JWKS has it.
func publishedJWK(t testing.TB, c *Client, p *Proc, kid string) (raw []byte, jwk jose.JSONWebKey) {
	t.Helper()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	c.Get(p.URL+"/.well-known/jwks.json").Want(t, 200).JSON(t, &set)
	for _, r := range set.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(r, &k); err != nil {
			t.Fatalf("JWKS key: %v", err)
		}
		if k.KeyID == kid {
			return r, k
		}
	}
	t.Fatalf("kid %s not in the JWKS of %s", kid, p.Name)
	return nil, jose.JSONWebKey{}
}

// catalogueCase is one hostile token.
type catalogueCase struct {
	name, token string
}

// hostileTokens builds the catalogue of TestRFC8725CatalogueAgainstRunningServer. real is
// the auth server's current key, user a signed-up account, trap a URL that must never be
// fetched.
func hostileTokens(t *testing.T, c *Client, auth *Proc, real jose.SigningKey, user account, trap string) []catalogueCase {
	t.Helper()
	now := time.Now()
	base := accessClaims(auth, now)
	kid := publicJWK(t, real).KeyID
	rawPub, pub := publishedJWK(t, c, auth, kid)
	own := ownKey(t, "ES256", "forger-"+uuid.NewString())
	ownPub := publicJWK(t, own)
	noKID := jose.SigningKey{Algorithm: real.Algorithm, Key: real.Key.(jose.JSONWebKey).Key}
	good := user.Tokens.AccessToken
	cases := []catalogueCase{
		{"none with a signature", rawJWS(t, hdr{"alg": "none", "kid": kid, "typ": "at+jwt"}, base, []byte("sig"))},
		{"HS256 keyed with the published JWK", mint(t, hmacKey(rawPub, kid), base, nil)},
		{"HS256 keyed with the public key PEM", mint(t, hmacKey(pemOf(t, pub), kid), base, nil)},
		{"embedded jwk", mint(t, own, base, hdr{"jwk": ownPub})},
		{"embedded jwk under the server kid", mint(t, own, base, hdr{"jwk": ownPub, "kid": kid})},
		{"jku", mint(t, own, base, hdr{"jku": trap + "/jwks.json"})},
		{"jku under the server kid", mint(t, own, base, hdr{"jku": trap + "/jwks.json", "kid": kid})},
		{"x5u", mint(t, own, base, hdr{"x5u": trap + "/cert.pem"})},
		{"x5c self-signed", mint(t, own, base, hdr{"x5c": []string{selfSigned(t, own)}})},
		{"crit", mint(t, real, base, hdr{"crit": []string{"urn:x-test"}, "urn:x-test": true})},
		{"RS256 under the server kid", mint(t, ownKey(t, "RS256", kid), base, nil)},
		{"EdDSA under the server kid", mint(t, ownKey(t, "EdDSA", kid), base, nil)},
		{"header alg ES384 over an ES256 signature", mint(t, real, base, hdr{"alg": "ES384"})},
		{"unknown kid", mint(t, own, base, nil)},
		{"another key under the server kid", mint(t, ownKey(t, "ES256", kid), base, nil)},
		{"no kid", mint(t, noKID, base, nil)},
		{"expired", mint(t, real, with(base, "exp", now.Add(-10*time.Minute).Unix(), "iat", now.Add(-25*time.Minute).Unix(), "nbf", now.Add(-25*time.Minute).Unix()), nil)},
		{"nbf in the future", mint(t, real, with(base, "nbf", now.Add(10*time.Minute).Unix()), nil)},
		{"iat in the future", mint(t, real, with(base, "iat", now.Add(10*time.Minute).Unix()), nil)},
		{"no exp", mint(t, real, with(base, "exp", nil), nil)},
		{"wrong iss", mint(t, real, with(base, "iss", "https://evil.example"), nil)},
		{"iss with a trailing slash", mint(t, real, with(base, "iss", auth.env["AUTH_ISSUER"]+"/"), nil)},
		{"wrong aud", mint(t, real, with(base, "aud", []string{"other-service"}), nil)},
		{"no aud", mint(t, real, with(base, "aud", nil), nil)},
		{"typ JWT", mint(t, real, base, hdr{"typ": "JWT"})},
		{"no typ", mint(t, real, base, hdr{"typ": nil})},
		{"sync token", mint(t, real, with(base, "aud", []string{"user-sync"}), hdr{"typ": "sync+jwt"})},
		{"no sub", mint(t, real, with(base, "sub", nil), nil)},
		{"no sid", mint(t, real, with(base, "sid", nil), nil)},
		{"refresh token", user.Tokens.RefreshToken},
		{"garbage", "garbage"},
		{"three empty parts", ".."},
		{"JWE shape", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"},
		{"tampered payload", tamper(t, good)},
		{"truncated signature", good[:len(good)-8]},
		{"no signature", good[:strings.LastIndexByte(good, '.')+1]},
		{"padded signature", good + "=="},
		{"signature of another token", spliceSignature(good, mint(t, real, base, nil))},
		{"16 KiB", mint(t, real, with(base, "pad", strings.Repeat("x", 12<<10)), nil)},
	}
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		cases = append(cases, catalogueCase{"alg " + alg, rawJWS(t, hdr{"alg": alg, "kid": kid, "typ": "at+jwt"}, base, nil)})
	}
	for _, k := range []any{"../../../../etc/passwd", "' OR '1'='1", "kid\x00nul", "a\r\nX-Injected: 1",
		strings.Repeat("k", 300), trap + "/kid", "", 12345, []string{kid}} {
		name, _ := json.Marshal(k)
		cases = append(cases, catalogueCase{"kid " + shorten(string(name)), mint(t, real, base, hdr{"kid": k})})
	}
	return cases
}

// selfSigned is a self-signed certificate for k's public key (base64 DER, as x5c holds it).
func selfSigned(t testing.TB, k jose.SigningKey) string {
	t.Helper()
	priv := k.Key.(jose.JSONWebKey).Key.(crypto.Signer)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// tamper changes the payload of a signed token (preferred_username becomes "admin") and
// keeps its header and signature.
func tamper(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	claims := jwtClaims(t, token)
	claims["preferred_username"] = "admin"
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// spliceSignature is a's header and payload with b's signature.
func spliceSignature(a, b string) string {
	return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
}

// shorten keeps a test name readable.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
