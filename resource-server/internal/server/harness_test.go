package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/internal/server"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

const (
	issuer   = "https://auth.test"
	audience = "resource-server"
	aliceID  = "0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10"
	bobID    = "7d1f3c2e-1111-4a2b-9c3d-000000000002"
)

// harness is a resource server over a fresh database, verifying with a real verifier against a
// JWKS that an httptest server publishes for a freshly generated ES256 key.
type harness struct {
	key    *ecdsa.PrivateKey // published as kid "k1"
	forger *ecdsa.PrivateKey // never published
	jwks   *httptest.Server
	db     *db.DB
	store  *appstore.Store
	srv    *httptest.Server
	h      http.Handler // the server's handler, for in-process benchmarks
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessOn(t, testdb.Open(t, testdb.SQLiteURL(t), db.AppSchema))
}

func newHarnessOn(t testing.TB, d *db.DB) *harness {
	t.Helper()
	h := &harness{key: newKey(t), forger: newKey(t), db: d}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: h.key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(set)
	}))
	t.Cleanup(h.jwks.Close)
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg)
	v := newVerifier(t, h.jwks.URL, metrics)
	h.store = appstore.New(d, time.Now)
	h.h = server.New(server.Deps{Store: h.store, Verifier: v, Metrics: metrics})
	h.srv = httptest.NewServer(h.h)
	t.Cleanup(h.srv.Close)
	return h
}

func newVerifier(t testing.TB, jwksURL string, obs verifier.Observer) *verifier.Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := verifier.New(ctx, verifier.Config{Issuer: issuer, Audience: []string{audience},
		JWKSURL: jwksURL, Algorithms: []string{"ES256"}, Observer: obs})
	if err != nil {
		t.Fatalf("verifier.New: %v", err)
	}
	return v
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// claims are an access token's claims for user sub; edit changes them (nil removes one).
type edit func(typ *string, c map[string]any)

// token signs an access token for sub/name with the published key after edits.
func (h *harness) token(t testing.TB, sub, name string, edits ...edit) string {
	t.Helper()
	return h.sign(t, h.key, sub, name, edits...)
}

func (h *harness) sign(t testing.TB, key *ecdsa.PrivateKey, sub, name string, edits ...edit) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"iss": issuer, "sub": sub, "aud": audience, "exp": now.Add(15 * time.Minute).Unix(),
		"iat": now.Unix(), "nbf": now.Unix(), "jti": rand.Text(), "sid": "s-" + sub,
		"preferred_username": name, "email": name + "@example.com",
		"client_id": "first-party", "scope": "openid profile email notes:read notes:write", "roles": []string{},
	}
	typ := "at+jwt"
	for _, e := range edits {
		e(&typ, c)
	}
	maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "k1")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// syncToken is what the auth server signs for a sync call: typ sync+jwt, aud user-sync, no sid.
func syncToken(typ *string, c map[string]any) {
	*typ = "sync+jwt"
	c["aud"], c["sub"], c["sid"], c["preferred_username"], c["email"] = "user-sync", "auth-server", nil, nil, nil
	c["client_id"], c["scope"], c["roles"] = nil, nil, nil
}

// signs binds a sync token to the request body it comes with (body_sha256), encoding body as
// the harness's do does.
func signs(t *testing.T, body any) edit {
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		raw = j
	}
	return func(_ *string, c map[string]any) { c[syncevent.BodyHashClaim] = syncevent.BodyHash(raw) }
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// req describes one request; an empty token sends no Authorization header.
type req struct {
	method, path, token, contentType string
	body                             any // string or []byte as is; anything else as JSON
	header                           http.Header
}

func (h *harness) do(t *testing.T, rq req) response {
	t.Helper()
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
		if rq.contentType == "" {
			rq.contentType = "application/json"
		}
	}
	r, err := http.NewRequest(rq.method, h.srv.URL+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(r.Header, rq.header)
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.contentType != "" {
		r.Header.Set("Content-Type", rq.contentType)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// want checks the status and, for errors, the JSON error code.
func (r response) want(t *testing.T, status int, code string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if code != "" && r.body["error"] != code {
		t.Fatalf("error = %v, want %q; body %s", r.body["error"], code, r.raw)
	}
	if code != "" {
		if _, ok := r.body["error_description"].(string); !ok {
			t.Fatalf("error without error_description: %s", r.raw)
		}
	}
	return r
}

// wantChallenge checks a 401's WWW-Authenticate: bare "Bearer" for a missing token, else one
// carrying error="invalid_token".
func (r response) wantChallenge(t *testing.T, missing bool) {
	t.Helper()
	r.want(t, http.StatusUnauthorized, "invalid_token")
	got := r.header.Get("WWW-Authenticate")
	if missing && got != "Bearer" {
		t.Fatalf("WWW-Authenticate = %q, want bare Bearer", got)
	}
	if !missing && !strings.HasPrefix(got, `Bearer error="invalid_token"`) {
		t.Fatalf(`WWW-Authenticate = %q, want Bearer error="invalid_token"…`, got)
	}
}
