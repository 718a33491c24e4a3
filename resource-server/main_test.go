package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/internal/envconf"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// env is a getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// lockedBuffer collects the program's log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestConfigErrors(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		varName string
	}{
		{"unknown algorithm", map[string]string{"ALGORITHM": "HS512"}, nil, "ALGORITHM"},
		{"HS256 without secret", map[string]string{"ALGORITHM": "HS256"}, nil, "SECRET_KEY"},
		{"HS256 short secret", map[string]string{"ALGORITHM": "HS256", "SECRET_KEY": "short"}, nil, "SECRET_KEY"},
		{"legacy without secret", map[string]string{"LEGACY_HS256_UNTIL": "2030-01-01T00:00:00Z"}, nil, "LEGACY_HS256_UNTIL"},
		{"legacy not a time", map[string]string{"LEGACY_HS256_UNTIL": "tomorrow", "SECRET_KEY": testSecret}, nil, "LEGACY_HS256_UNTIL"},
		{"leeway", map[string]string{"CLOCK_LEEWAY": "soon"}, nil, "CLOCK_LEEWAY"},
		{"leeway too long", map[string]string{"CLOCK_LEEWAY": "1h"}, nil, "CLOCK_LEEWAY"},
		{"pool", map[string]string{"DB_MAX_CONNS": "0"}, nil, "DB_MAX_CONNS"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, nil, "LOG_LEVEL"},
		{"jwks url", map[string]string{"JWKS_URL": "ftp://keys"}, nil, "JWKS_URL"},
		{"audience", map[string]string{"AUTH_AUDIENCE": " , "}, nil, "AUTH_AUDIENCE"},
		{"issuer not a URL", map[string]string{"AUTH_ISSUER": "not a url"}, nil, "AUTH_ISSUER"},
		{"issuer not http", map[string]string{"AUTH_ISSUER": "ftp://auth.example"}, nil, "AUTH_ISSUER"},
		{"issuer relative", map[string]string{"AUTH_ISSUER": "/auth"}, nil, "AUTH_ISSUER"},
		{"database url", map[string]string{"APP_DATABASE_URL": "mysql://u:secret@h/db"}, nil, "APP_DATABASE_URL"},
		{"flag", nil, []string{"--clock-leeway=-1s"}, "CLOCK_LEEWAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, env(tt.env), nil, io.Discard, io.Discard)
			if err == nil || !strings.HasPrefix(err.Error(), "configuration: "+tt.varName+": ") {
				t.Fatalf("err = %v, want one naming %s", err, tt.varName)
			}
			if strings.Contains(err.Error(), "secret@") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q: want one line, no password", err)
			}
		})
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// The Python system's app service .env, spaces around '=' included.
	dotenv := `SECRET_KEY="` + testSecret + `"
ALGORITHM="HS256"

APP_HOST ="db.internal"
APP_PORT ="5433"
APP_USER="app"
APP_PWD="p@ss"
APP_DB="app_db"
`
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, rest, err := loadConfig([]string{"--resource-addr", ":9999", "migrate"}, env(map[string]string{"APP_DB": "from_env"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://app:p%40ss@db.internal:5433/from_env?sslmode=disable"; cfg.DatabaseURL != want {
		t.Errorf("DatabaseURL = %q, want %q", cfg.DatabaseURL, want)
	}
	if cfg.Addr != ":9999" || cfg.Algorithm != "HS256" || string(cfg.SecretKey) != testSecret || len(rest) != 1 || rest[0] != "migrate" {
		t.Errorf("cfg = %+v, rest %q", cfg, rest)
	}
	if cfg.JWKSURL != "http://localhost:8080/.well-known/jwks.json" || cfg.Leeway != 30*time.Second || cfg.DBMaxConns != 16 {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.Audience[0] != "resource-server" || cfg.Issuer != "http://localhost:8080" {
		t.Errorf("issuer/audience defaults: %+v", cfg)
	}
}

// TestSeedDotenvOnPostgres starts the resource server from the Python system's app-service
// .env against a real PostgreSQL database.
func TestSeedDotenvOnPostgres(t *testing.T) {
	pg, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	pwd, _ := pg.User.Password()
	dotenv := fmt.Sprintf("SECRET_KEY=%q\nALGORITHM=\"HS256\"\nAPP_HOST =%q\nAPP_PORT =%q\nAPP_USER=%q\nAPP_PWD=%q\nAPP_DB=%q\n",
		testSecret, pg.Hostname(), pg.Port(), pg.User.Username(), pwd, strings.TrimPrefix(pg.Path, "/"))
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"migrate"}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "migrations applied") {
		t.Fatalf("stdout = %q", out.String())
	}
	base, stop := start(t, map[string]string{"RESOURCE_ADDR": freeAddr(t)})
	defer stop()
	tok := signHS256(t, testSecret, "http://localhost:8080")
	wantStatus(t, base+"/me", tok, http.StatusOK)
}

func TestServeHS256(t *testing.T) {
	t.Chdir(t.TempDir())
	base, stop := start(t, map[string]string{"RESOURCE_ADDR": freeAddr(t), "ALGORITHM": "HS256",
		"SECRET_KEY": testSecret, "AUTH_ISSUER": "https://auth.test/"})
	wantStatus(t, base+"/readyz", "", http.StatusOK)
	wantStatus(t, base+"/whoami", signHS256(t, testSecret, "https://auth.test"), http.StatusOK)
	wantStatus(t, base+"/awesome_app", signHS256(t, testSecret, "https://auth.test"), http.StatusOK)
	wantStatus(t, base+"/whoami", signHS256(t, strings.Repeat("x", 64), "https://auth.test"), http.StatusUnauthorized)
	wantStatus(t, base+"/whoami", "", http.StatusUnauthorized)
	stop()
	if _, err := os.Stat("data/app.db"); err != nil {
		t.Fatalf("default SQLite database: %v", err)
	}
}

// TestLegacyHS256 is the move off HS256: with ES256 and LEGACY_HS256_UNTIL in the future both
// kinds of token pass; once that time has passed, HS256 tokens are refused.
func TestLegacyHS256(t *testing.T) {
	t.Chdir(t.TempDir())
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks) }))
	defer ks.Close()
	es := sign(t, jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, "https://auth.test")
	hs := signHS256(t, testSecret, "https://auth.test")
	tests := []struct {
		name   string
		until  string
		hsWant int
	}{
		{"window open", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), http.StatusOK},
		{"window closed", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), http.StatusUnauthorized},
		{"no window", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, stop := start(t, map[string]string{"RESOURCE_ADDR": freeAddr(t), "ALGORITHM": "ES256", "JWKS_URL": ks.URL,
				"SECRET_KEY": testSecret, "LEGACY_HS256_UNTIL": tt.until, "AUTH_ISSUER": "https://auth.test"})
			defer stop()
			wantStatus(t, base+"/readyz", "", http.StatusOK)
			wantStatus(t, base+"/whoami", es, http.StatusOK)
			wantStatus(t, base+"/whoami", hs, tt.hsWant)
		})
	}
}

// start runs the program with environment e until stop, after /healthz answered.
func start(t *testing.T, e map[string]string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env(e), nil, io.Discard, logs) }()
	base = "http://" + e["RESOURCE_ADDR"]
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no /healthz within 15s\n%s", logs)
		}
	}
	var once sync.Once
	return base, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v\n%s", err, logs)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func wantStatus(t *testing.T, u, token string, want int) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", u, resp.StatusCode, body, want)
	}
}

func signHS256(t *testing.T, secret, iss string) string {
	return sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte(secret)}, iss)
}

// sign makes an access token as the auth server does.
func sign(t *testing.T, key jose.SigningKey, iss string) string {
	t.Helper()
	s, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(s).Claims(map[string]any{"iss": iss, "sub": "0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10",
		"aud": "resource-server", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": rand.Text(), "sid": "s1", "preferred_username": "alice", "email": "alice@example.com"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifierConfig(t *testing.T) {
	log := envconf.Common{LogLevel: "error"}.Logger(io.Discard)
	tests := []struct {
		name       string
		cfg        config
		wantJWKS   bool
		wantSecret bool
		wantLeeway time.Duration
	}{
		{"HS256", config{Common: envconf.Common{Algorithm: "HS256", SecretKey: []byte(testSecret)}, JWKSURL: "http://x", Leeway: 30 * time.Second}, false, true, 30 * time.Second},
		{"ES256 ignores secret", config{Common: envconf.Common{Algorithm: "ES256", SecretKey: []byte(testSecret)}, JWKSURL: "http://x"}, true, false, time.Nanosecond},
		{"ES256 legacy", config{Common: envconf.Common{Algorithm: "ES256", SecretKey: []byte(testSecret)}, JWKSURL: "http://x", LegacyUntil: time.Now(), Leeway: time.Second}, true, true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vc := verifierConfig(tt.cfg, log, nil)
			if (vc.JWKSURL != "") != tt.wantJWKS || (len(vc.HS256Secret) > 0) != tt.wantSecret || vc.Leeway != tt.wantLeeway {
				t.Fatalf("verifier config = %+v", vc)
			}
		})
	}
}
