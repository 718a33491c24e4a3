package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The authorization guarantees of CONTRACT.md §9 on the real binaries: a confidential
// client's client_credentials token is accepted by the resource server and by node jose; a
// notes:read-only token is refused on POST /notes with the RFC 6750 challenge; an admin's
// token without the admin scope is refused by the admin API; a disabled user can neither log
// in nor refresh. Each step can fail.
func TestAuthorizationOnTheBinaries(t *testing.T) {
	t.Parallel()
	s := startStack(t, StackOptions{})
	c := newClient(t)
	out := s.Auth.MustCLI("clients", "add", "reports", "--confidential", "--grant", "client_credentials",
		"--scope", "notes:read", "--role", "reporter").Stdout
	id := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("clients add printed:\n%s", out)
	}
	r := c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth(id[1], secret[1])).Want(t, http.StatusOK)
	var cc tokenResponse
	r.JSON(t, &cc)
	claims := jwtClaims(t, cc.AccessToken)
	if claims["sub"] != id[1] || claims["client_id"] != id[1] || claims["scope"] != "notes:read" || claims["sid"] != nil || cc.RefreshToken != "" {
		t.Fatalf("client_credentials token: %v, refresh %q", claims, cc.RefreshToken)
	}
	who := c.Get(s.Resource.URL+"/whoami", bearer(cc.AccessToken)).Want(t, http.StatusOK)
	var wc map[string]any
	who.JSON(t, &wc)
	if wc["client_id"] != id[1] {
		t.Errorf("/whoami of the client's token: %v", wc)
	}
	c.Get(s.Resource.URL+"/notes", bearer(cc.AccessToken)).Want(t, http.StatusOK)
	c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth(id[1], "wrong")).Want(t, http.StatusUnauthorized)

	if lib := nodeJose(); lib.missing() == "" {
		verify := lib.start(t, s.Auth.URL+"/.well-known/jwks.json", s.Auth.env["AUTH_ISSUER"], "resource-server", "ES256")
		if got := verify(cc.AccessToken); got != "ok "+kidOf(t, cc.AccessToken)+" "+id[1] {
			t.Errorf("node jose on the client's token: %q", got)
		}
	} else {
		t.Log("node jose not checked: " + lib.missing())
	}

	// A read-only token reads notes and may not write them.
	user := c.signup(s.Auth.URL, "scoped")
	ro := c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"password"}, "username": {user.Username},
		"password": {user.Password}, "scope": {"notes:read"}}).Want(t, http.StatusOK)
	var rot tokenResponse
	ro.JSON(t, &rot)
	c.Get(s.Resource.URL+"/notes", bearer(rot.AccessToken)).Want(t, http.StatusOK)
	refused := c.PostJSON(s.Resource.URL+"/notes", map[string]string{"title": "no"}, bearer(rot.AccessToken)).Want(t, http.StatusForbidden)
	if got, want := refused.Header.Get("WWW-Authenticate"), `Bearer error="insufficient_scope", scope="notes:write"`; got != want {
		t.Errorf("challenge %q, want %q", got, want)
	}
	c.PostJSON(s.Resource.URL+"/notes", map[string]string{"title": "yes"}, bearer(user.Tokens.AccessToken)).Want(t, http.StatusCreated)

	// The admin API needs the admin scope as well as the role.
	s.Auth.MustCLI("users", "role", "add", user.Username, "admin")
	plain := c.login(s.Auth.URL, user)
	r = c.Get(s.Auth.URL+"/admin/users", bearer(plain.AccessToken)).Want(t, http.StatusForbidden)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="admin"`) {
		t.Errorf("admin API without the scope: %q", r.Header.Get("WWW-Authenticate"))
	}
	adm := c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"password"}, "username": {user.Username},
		"password": {user.Password}, "scope": {"admin"}}).Want(t, http.StatusOK)
	var at tokenResponse
	adm.JSON(t, &at)
	c.Get(s.Auth.URL+"/admin/users?q=scop", bearer(at.AccessToken)).Want(t, http.StatusOK)

	// A disabled user can neither log in nor refresh.
	victim := c.signup(s.Auth.URL, "victim")
	s.Auth.MustCLI("users", "disable", victim.Username)
	r = c.PostForm(s.Auth.URL+"/login", url.Values{"username": {victim.Username}, "password": {victim.Password}}).Want(t, http.StatusForbidden)
	var e struct{ Error string }
	r.JSON(t, &e)
	if e.Error != "account_disabled" {
		t.Errorf("disabled login: %q", e.Error)
	}
	c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {victim.Tokens.RefreshToken}}).Want(t, http.StatusBadRequest)
	c.PostForm(s.Auth.URL+"/login", url.Values{"username": {victim.Username}, "password": {"wrong password"}}).Want(t, http.StatusUnauthorized)
	s.Auth.MustCLI("users", "enable", victim.Username)
	c.login(s.Auth.URL, victim)
}

// oauth4webapi's validateJwtAccessToken (RFC 9068, strictly: typ at+jwt, client_id, jti, iat,
// sub, aud, iss, exp) accepts the access tokens of every grant and every asymmetric algorithm,
// discovering the key set from the metadata; a tampered one fails.
func TestRFC9068Validation(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(suite.moduleRoot, "e2e", "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth4webapi")); err != nil {
		t.Skip("oauth4webapi not installed; run `npm ci` in e2e/interop/node")
	}
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			if alg == "EdDSA" {
				if why := nodeJose().lacks(alg); why != "" {
					t.Skip(why)
				}
			}
			auth := startAuth(t, map[string]string{"ALGORITHM": alg})
			c := newClient(t)
			user := c.signup(auth.URL, "rfc9068")
			out := auth.MustCLI("clients", "add", "svc", "--confidential", "--grant", "client_credentials", "--scope", "notes:read").Stdout
			id := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)[1]
			secret := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)[1]
			var cc tokenResponse
			c.PostForm(auth.URL+"/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth(id, secret)).Want(t, http.StatusOK).JSON(t, &cc)
			validate := startLineVerifier(t, "oauth4webapi", dir, "node", "rfc9068.mjs", auth.env["AUTH_ISSUER"], "resource-server", alg)
			for _, tc := range []struct{ name, token, want string }{
				{"signup token", user.Tokens.AccessToken, "ok first-party " + user.ID + " openid profile email notes:read notes:write"},
				{"login token", c.login(auth.URL, user).AccessToken, "ok first-party " + user.ID + " openid profile email notes:read notes:write"},
				{"client_credentials token", cc.AccessToken, "ok " + id + " " + id + " notes:read"},
			} {
				if got := validate(tc.token); got != tc.want {
					t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
				}
			}
			if got := validate(tamper(t, user.Tokens.AccessToken)); !strings.HasPrefix(got, "fail ") {
				t.Errorf("tampered token: %q", got)
			}
		})
	}
}

// basicAuth sends client credentials with HTTP Basic (client_secret_basic).
func basicAuth(id, secret string) Opt {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}
