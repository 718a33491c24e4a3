package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestSeedClientWorksUnchanged checks CONTRACT §2 and the seed compatibility of §6 and §7:
// the Python system's .env files (auth_service: HS256 SECRET_KEY, APP_SERVICE_HOST,
// AUTH_HOST…; app_service: SECRET_KEY, ALGORITHM, APP_HOST…), written as they were, start
// both servers against PostgreSQL, and a client written for the Python system works: /signup
// JSON, /login form, /awesome_app with the token in a JSON body and no Authorization header.
// The user also reaches the app through APP_SERVICE_HOST's /sync_user.
func TestSeedClientWorksUnchanged(t *testing.T) {
	t.Parallel()
	authDB, appDB := testdb.PostgresURL(t), testdb.PostgresURL(t)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key := hex.EncodeToString(secret) // as the seed's README makes it: openssl rand -hex 32
	rport := freePort(t)
	s := startStack(t, StackOptions{
		// Nothing of ours but the listen addresses (and fast hashing): everything else comes
		// from the seed's .env files.
		Auth:     map[string]string{"SYNC_URLS": "", "AUTH_ISSUER": "", "KEY_ENCRYPTION_KEY": ""},
		Resource: map[string]string{"JWKS_URL": "", "RESOURCE_ADDR": "127.0.0.1:" + strconv.Itoa(rport)},
		AuthFiles: map[string]string{".env": seedDotenv(t, key, "AUTH", authDB,
			fmt.Sprintf("APP_SERVICE_HOST=\"http://127.0.0.1:%d/sync_user\"\n", rport))},
		ResourceFiles: map[string]string{".env": seedDotenv(t, key, "APP", appDB, "")},
	})
	c := newClient(t)

	// The seed's client: requests.post(json=...), requests.post(data=...), requests.get(json=...).
	r := c.PostJSON(s.Auth.URL+"/signup", map[string]string{"username": "seeduser", "email": "seed@example.com", "password": "seed password"})
	if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusCreated {
		t.Fatalf("signup: %d %s", r.StatusCode, r.Body)
	}
	var signup struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &signup)
	if signup.AccessToken == "" {
		t.Fatalf("signup: no access_token: %s", r.Body)
	}
	var login struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	c.PostForm(s.Auth.URL+"/login", url.Values{"grant_type": {"password"}, "username": {"seeduser"}, "password": {"seed password"},
		"scope": {""}, "client_id": {""}, "client_secret": {""}}).Want(t, http.StatusOK).JSON(t, &login)
	if !strings.EqualFold(login.TokenType, "bearer") {
		t.Errorf("token_type %q", login.TokenType)
	}
	if alg := jwtHeader(t, login.AccessToken)["alg"]; alg != "HS256" {
		t.Errorf("with the seed's ALGORITHM=HS256 the token is %v", alg)
	}
	body, ct := jsonBody(map[string]string{"access_token": login.AccessToken, "msg": "hello"})
	var raw map[string]string
	c.Send(http.MethodGet, s.Resource.URL+"/awesome_app", body, ct).Want(t, http.StatusOK).JSON(t, &raw)
	if raw["accessed_user"] != "seeduser" || raw["msg"] != "You accessed!!!" {
		t.Errorf("/awesome_app = %v, want seeduser and the seed's message", raw)
	}

	t.Run("sync reaches APP_SERVICE_HOST", func(t *testing.T) {
		var app struct{ Version int64 }
		ok := poll(pickupTimeout, func() bool {
			c.Get(s.Resource.URL+"/me", bearer(login.AccessToken)).Want(t, http.StatusOK).JSON(t, &app)
			return app.Version >= 1
		})
		if !ok {
			t.Errorf("the app's record of the user is still at version %d: the signup was not synced through APP_SERVICE_HOST", app.Version)
		}
	})
}

// seedDotenv writes a .env as the seed's README shows it (quoted values, spaces before some
// '='), for prefix AUTH or APP, pointing at the PostgreSQL database dbURL.
func seedDotenv(t *testing.T, secret, prefix, dbURL, extra string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pwd, ok := u.User.Password()
	if !ok {
		pwd = "unused-with-trust-auth"
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SECRET_KEY=%q\nALGORITHM=\"HS256\"\n\n%s\n", secret, extra)
	fmt.Fprintf(&b, "%s_HOST =%q\n%s_PORT =%q\n", prefix, u.Hostname(), prefix, port)
	fmt.Fprintf(&b, "%s_USER=%q\n%s_PWD=%q\n%s_DB=%q\n", prefix, u.User.Username(), prefix, pwd, prefix, strings.TrimPrefix(u.Path, "/"))
	return b.String()
}
