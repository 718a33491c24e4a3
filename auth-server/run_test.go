package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startRun runs the program in-process with args and env, and returns its base URL once it
// listens; it is stopped when the test ends.
func startRun(t *testing.T, args []string, getenv func(string) string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, strings.NewReader(""), io.Discard, pw); _ = pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not stop")
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "auth server listening" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// The seed's auth_service .env (HS256, AUTH_* names) starts the server against PostgreSQL,
// and its tokens verify with the shared secret as the Python system's did.
func TestSeedDotenvStartsAgainstPostgres(t *testing.T) {
	raw := testdb.PostgresURL(t)
	u, _ := url.Parse(raw)
	dir := t.TempDir()
	t.Chdir(dir)
	secret := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	writeFile(t, dir+"/.env", `SECRET_KEY="`+secret+`"
ALGORITHM="HS256"
APP_SERVICE_HOST="http://127.0.0.1:9/sync_user"
AUTH_HOST ="`+u.Hostname()+`"
AUTH_PORT ="`+u.Port()+`"
AUTH_USER="`+u.User.Username()+`"
AUTH_PWD="postgres"
AUTH_DB="`+strings.TrimPrefix(u.Path, "/")+`"
`)
	base := startRun(t, []string{"--auth-addr", "127.0.0.1:0"}, envOf())
	res, err := http.Post(base+"/signup", "application/json", strings.NewReader(`{"username":"seeduser","email":"seed@example.com","password":"password1"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("signup: %d", res.StatusCode)
	}
	res, err = http.PostForm(base+"/login", url.Values{"username": {"seeduser"}, "password": {"password1"}})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	tok, err := jwt.ParseSigned(body.AccessToken, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := tok.Claims([]byte(secret), &c); err != nil {
		t.Fatalf("HS256 token does not verify with SECRET_KEY: %v", err)
	}
	// The user is in the PostgreSQL database the AUTH_* names point at.
	d := testdb.Open(t, raw, "auth")
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM users WHERE username = 'seeduser'`); err != nil || n != 1 {
		t.Errorf("user in PostgreSQL: %d %v", n, err)
	}
	jwks, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(jwks.Body)
	jwks.Body.Close()
	if strings.TrimSpace(string(b)) != `{"keys":[]}` {
		t.Errorf("HS256 JWKS = %s, want empty", b)
	}
}
