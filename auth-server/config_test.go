package main

import (
	"io"
	"strings"
	"testing"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// Each bad value stops the server at start with one line naming the variable.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	secret := strings.Repeat("s", 32)
	for _, tc := range []struct {
		variable string
		env      []string
	}{
		{"ALGORITHM", []string{"ALGORITHM", "PS999"}},
		{"SECRET_KEY", []string{"ALGORITHM", "HS256"}},
		{"SECRET_KEY", []string{"ALGORITHM", "HS256", "SECRET_KEY", "short"}},
		{"KEY_ENCRYPTION_KEY", []string{"AUTH_DATABASE_URL", "postgres://x/y"}},
		{"KEY_ENCRYPTION_KEY", []string{"KEY_ENCRYPTION_KEY", "not-32-bytes"}},
		{"ACCESS_TOKEN_TTL", []string{"ACCESS_TOKEN_TTL", "soon"}},
		{"ACCESS_TOKEN_TTL", []string{"ACCESS_TOKEN_TTL", "0s"}},
		{"REFRESH_IDLE_TTL", []string{"REFRESH_IDLE_TTL", "-1h"}},
		{"SESSION_MAX_TTL", []string{"SESSION_MAX_TTL", "forever"}},
		{"REFRESH_REUSE_GRACE", []string{"REFRESH_REUSE_GRACE", "x"}},
		{"JWKS_MAX_AGE", []string{"JWKS_MAX_AGE", "5"}},
		{"KEY_PUBLISH_AHEAD", []string{"KEY_PUBLISH_AHEAD", "1m"}},
		{"KEY_ROTATE_EVERY", []string{"KEY_ROTATE_EVERY", "weekly"}},
		{"AUTH_ISSUER", []string{"AUTH_ISSUER", "not a url"}},
		{"AUTH_ISSUER", []string{"AUTH_ISSUER", "ftp://auth.example"}},
		{"AUTH_AUDIENCE", []string{"AUTH_AUDIENCE", " , "}},
		{"SYNC_URLS", []string{"SYNC_URLS", "ftp://x"}},
		{"SYNC_URLS", []string{"SYNC_URLS", "http://a/sync/users, http://a/sync/users"}},
		{"SYNC_LEASE", []string{"SYNC_LEASE", "1ms"}},
		{"SYNC_RETRY_MAX", []string{"SYNC_RETRY_BASE", "10s", "SYNC_RETRY_MAX", "1s"}},
		{"ARGON2_PARAMS", []string{"ARGON2_PARAMS", "m=1"}},
		{"DB_MAX_CONNS", []string{"DB_MAX_CONNS", "0"}},
		{"LOG_LEVEL", []string{"LOG_LEVEL", "loud"}},
	} {
		t.Run(tc.variable+"="+tc.env[len(tc.env)-1], func(t *testing.T) {
			_, _, err := loadConfig(nil, envOf(tc.env...), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.variable+":") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name %s on one line", err, tc.variable)
			}
		})
	}
	if _, _, err := loadConfig(nil, envOf("ALGORITHM", "HS256", "SECRET_KEY", secret), io.Discard); err != nil {
		t.Errorf("valid HS256 config refused: %v", err)
	}
}

func TestConfigDefaultsAndFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	c, rest, err := loadConfig([]string{"--auth-addr", "127.0.0.1:9999", "keys", "list"}, envOf(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DatabaseURL != "sqlite:data/auth.db" || c.Algorithm != "ES256" ||
		c.AccessTTL.String() != "15m0s" || c.SyncURLs[0] != "http://localhost:8081/sync/users" || c.Audience[0] != "resource-server" {
		t.Errorf("config = %+v", c)
	}
	if strings.Join(rest, " ") != "keys list" {
		t.Errorf("rest = %v", rest)
	}
}

// The Python system's auth_service .env works unchanged.
func TestSeedDotenvNames(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	seed := `SECRET_KEY="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
ALGORITHM="HS256"

APP_SERVICE_HOST="http://app_service:8001/sync_user"

AUTH_HOST ="auth_db"
AUTH_PORT ="5432"
AUTH_USER="auth user"
AUTH_PWD="p@ss word"
AUTH_DB="auth_db"
`
	writeFile(t, dir+"/.env", seed)
	c, _, err := loadConfig(nil, envOf(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://auth%20user:p%40ss%20word@auth_db:5432/auth_db?sslmode=disable" {
		t.Errorf("database url = %s", c.DatabaseURL)
	}
	if len(c.SyncURLs) != 1 || c.SyncURLs[0] != "http://app_service:8001/sync_user" {
		t.Errorf("sync urls = %v", c.SyncURLs)
	}
	if c.Algorithm != "HS256" || string(c.SecretKey) != "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("algorithm %s secret %q", c.Algorithm, c.SecretKey)
	}
	// The environment wins over .env.
	c, _, err = loadConfig(nil, envOf("AUTH_DATABASE_URL", "sqlite:x.db"), io.Discard)
	if err != nil || c.DatabaseURL != "sqlite:x.db" {
		t.Errorf("env over .env: %v %v", c.DatabaseURL, err)
	}
}

// A kid is base64url and may start with "-": it must still be taken as the argument.
func TestParseKeysArgs(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		json, force bool
		rest        string
		bad         bool
	}{
		{args: []string{"-M62CZC10abc"}, rest: "-M62CZC10abc"},
		{args: []string{"--", "--weird"}, rest: "--weird"},
		{args: []string{"--json"}, json: true},
		{args: []string{"--force"}, force: true},
		{args: []string{"--bogus"}, bad: true},
	} {
		o, err := parseKeysArgs(tc.args)
		if (err != nil) != tc.bad || o.json != tc.json || o.force != tc.force || strings.Join(o.args, " ") != tc.rest {
			t.Errorf("parseKeysArgs(%q) = %+v, %v", tc.args, o, err)
		}
	}
}
