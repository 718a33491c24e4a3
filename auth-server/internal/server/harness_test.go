package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	bearercheck "github.com/jwtauth/jwtauth/auth-server/internal/bearer"
	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/server"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/keys"
)

// clock is a settable test clock.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	real bool // follow the wall clock (Advance then panics)
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.t
}

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is one auth server under test, on a real database, served by httptest.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	store    *store.Store
	ring     *keyring.Ring
	clock    *clock
	reg      *prometheus.Registry
	cfg      envConfig
	issuer   *tokens.Issuer
	metrics  *server.Metrics
	accounts *account.Service
}

// envConfig is the configuration of the server and its account service.
type envConfig struct {
	server  server.Config
	account account.Config
}

// option edits the configuration before the server starts.
type option func(*envConfig)

// testPolicy is a refresh policy for tests.
var testPolicy = refresh.Policy{IdleTTL: time.Hour, MaxTTL: 24 * time.Hour, ReuseGrace: 10 * time.Second}

// newEnv starts an auth server on d (migrated auth schema) with fast password hashing.
func newEnv(t testing.TB, d *db.DB, opts ...option) *env {
	t.Helper()
	fast := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	return newEnvWithHasher(t, d, fast, opts...)
}

// defaultKeyPolicy is the key policy of test servers.
var defaultKeyPolicy = keys.Policy{PublishAhead: 20 * time.Minute, AccessTTL: 15 * time.Minute, JWKSMaxAge: 5 * time.Minute}

// newEnvWithHasher starts an auth server with the given password hasher.
func newEnvWithHasher(t testing.TB, d *db.DB, hasher *password.Hasher, opts ...option) *env {
	t.Helper()
	return newEnvFull(t, d, hasher, defaultKeyPolicy, newClock(), opts...)
}

// newEnvFull starts an auth server with every part chosen.
func newEnvFull(t testing.TB, d *db.DB, hasher *password.Hasher, policy keys.Policy, c *clock, opts ...option) *env {
	t.Helper()
	e := &env{t: t, store: store.New(d), clock: c, reg: prometheus.NewRegistry()}
	e.cfg = envConfig{
		server:  server.Config{Issuer: "http://auth.test", Algorithm: "ES256", JWKSMaxAge: 5 * time.Minute},
		account: account.Config{Throttle: throttle.DefaultPolicy(), Refresh: testPolicy},
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	sealer, err := keys.NewSealer(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.ring = keyring.New(e.store, sealer, policy, "ES256", e.clock.Now, log)
	if err := e.ring.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.start(hasher, policy.AccessTTL, e.ring, e.ring, log)
	return e
}

// newHS256Env starts an auth server in HS256 mode (ALGORITHM=HS256, SECRET_KEY=testSecret).
func newHS256Env(t testing.TB, d *db.DB) *env {
	t.Helper()
	e := &env{t: t, store: store.New(d), clock: newClock(), reg: prometheus.NewRegistry()}
	e.cfg = envConfig{
		server:  server.Config{Issuer: "http://auth.test", Algorithm: "HS256", JWKSMaxAge: 5 * time.Minute},
		account: account.Config{Throttle: throttle.DefaultPolicy(), Refresh: testPolicy},
	}
	hs := tokens.NewHS256Key(testSecret)
	fast := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	e.start(fast, defaultKeyPolicy.AccessTTL, hs, hs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return e
}

// testSecret is the SECRET_KEY of HS256 test servers.
var testSecret = []byte("hs256-test-secret-of-32-bytes-or-more")

// testLeeway is the CLOCK_LEEWAY of test servers.
const testLeeway = 30 * time.Second

// start builds the issuer, the Bearer check, the account service and the handler of e,
// signing with src and publishing ks.
func (e *env) start(hasher *password.Hasher, accessTTL time.Duration, src tokens.KeySource, ks server.KeySet, log *slog.Logger) {
	e.issuer = tokens.NewIssuer(e.cfg.server.Issuer, []string{"resource-server"}, accessTTL, src, e.clock.Now)
	e.metrics = server.NewMetrics(e.reg)
	bv, err := bearercheck.New(context.Background(), bearercheck.Config{Issuer: e.cfg.server.Issuer, Audience: []string{"resource-server"},
		Algorithm: e.cfg.server.Algorithm, HS256Secret: testSecret, Keys: ks, Leeway: testLeeway, Now: e.clock.Now, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	sealer, err := keys.NewSealer(testKEK)
	if err != nil {
		e.t.Fatal(err)
	}
	e.accounts = account.New(e.cfg.account, account.Deps{Store: e.store, Hasher: hasher, Issuer: e.issuer,
		Verifier: server.BearerVerifier{V: bv}, Observer: e.metrics.AccountObserver(), Logger: log, Now: e.clock.Now, Sealer: sealer})
	h := server.New(e.cfg.server, server.Deps{Accounts: e.accounts, Store: e.store, Keys: ks, Metrics: e.metrics, Logger: log})
	e.srv = httptest.NewServer(h)
	e.t.Cleanup(e.srv.Close)
}

// testKEK seals the signing keys of test servers.
var testKEK = bytes.Repeat([]byte{7}, 32)

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (r resp) str(key string) string { s, _ := r.Body[key].(string); return s }

// do sends a request; body may be a string (sent as is with ctype) or any value (sent as JSON).
func (e *env) do(method, path string, body any, header ...string) resp {
	e.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// signup creates a user and returns the signup response, failing the test on anything but 201.
func (e *env) signup(username, email, pw string) resp {
	e.t.Helper()
	r := e.do("POST", "/signup", map[string]string{"username": username, "email": email, "password": pw})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("signup %s: %d %s", username, r.Status, r.Raw)
	}
	return r
}

// login logs in with JSON and returns the response.
func (e *env) login(username, pw string) resp {
	e.t.Helper()
	return e.do("POST", "/login", map[string]string{"username": username, "password": pw})
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// loginCookie logs username in through the hosted pages' login (a login session) and returns
// its cookie's value.
func (e *env) loginCookie(username, pw string) string {
	e.t.Helper()
	cookie, _, err := e.accounts.BrowserLogin(context.Background(), username, pw, account.Client{})
	if err != nil {
		e.t.Fatal(err)
	}
	return cookie
}

// testVerifier is the PKCE verifier of authorizeRequest's codes; testChallenge its S256.
var testVerifier = strings.Repeat("v", 43)

var testChallenge = func() string {
	sum := sha256.Sum256([]byte(testVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

// authorizeRequest is GET /authorize for a code of clientID with testChallenge, with
// the login cookie when one is given.
func authorizeRequest(clientID, redirect, scope, cookie string) *http.Request {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {scope},
		"state": {"s1"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"}}
	r := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	return r
}
