package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// addClient registers a client and returns its id and secret.
func (e *env) addClient(c clients.Client) (string, string) {
	e.t.Helper()
	sc, secret, err := e.accounts.AddClient(context.Background(), account.CLI, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return sc.ID, secret
}

// claims decodes an access token's payload (the signature is the servers' business).
func claims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func basic(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}
}

func TestClientCredentials(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		svc, secret := e.addClient(clients.Client{Name: "reports", Confidential: true, Grants: []string{clients.GrantClientCredentials},
			Scopes: []string{"notes:read", "notes:write"}, DefaultScopes: []string{"notes:read"}, Roles: []string{"reporter"}})
		form := url.Values{"grant_type": {"client_credentials"}}
		r := e.do("POST", "/token", form, basic(svc, secret)...)
		if r.Status != http.StatusOK || r.str("refresh_token") != "" || r.str("scope") != "notes:read" {
			t.Fatalf("client_credentials: %d %s", r.Status, r.Raw)
		}
		c := claims(t, r.str("access_token"))
		if c["sub"] != svc || c["client_id"] != svc || c["scope"] != "notes:read" || c["sid"] != nil || c["preferred_username"] != nil {
			t.Errorf("claims = %v", c)
		}
		if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "reporter" {
			t.Errorf("roles = %v", c["roles"])
		}
		post := url.Values{"grant_type": {"client_credentials"}, "client_id": {svc}, "client_secret": {secret}, "scope": {"notes:write notes:read"}}
		if r := e.do("POST", "/token", post); r.Status != http.StatusOK || r.str("scope") != "notes:write notes:read" {
			t.Errorf("client_secret_post with a scope: %d %s", r.Status, r.Raw)
		}
		for _, tc := range []struct {
			name       string
			form       url.Values
			header     []string
			status     int
			code, auth string
		}{
			{"wrong secret, basic", form, basic(svc, "nope"), 401, "invalid_client", `Basic realm="auth-server", charset="UTF-8"`},
			{"wrong secret, post", url.Values{"grant_type": {"client_credentials"}, "client_id": {svc}, "client_secret": {"nope"}}, nil, 401, "invalid_client", `Basic realm="auth-server", charset="UTF-8"`},
			{"no secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {svc}}, nil, 401, "invalid_client", `Basic realm="auth-server", charset="UTF-8"`},
			{"unknown client", form, basic("00000000-0000-4000-8000-000000000000", secret), 401, "invalid_client", `Basic realm="auth-server", charset="UTF-8"`},
			{"both methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, basic(svc, secret), 400, "invalid_request", ""},
			{"first-party may not", form, nil, 400, "unauthorized_client", ""},
			{"scope outside the client's", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, basic(svc, secret), 400, "invalid_scope", ""},
			{"malformed scope", url.Values{"grant_type": {"client_credentials"}, "scope": {`notes:read "x"`}}, basic(svc, secret), 400, "invalid_scope", ""},
			{"password grant not registered", url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, basic(svc, secret), 400, "unauthorized_client", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", "/token", tc.form, tc.header...)
				if r.Status != tc.status || r.str("error") != tc.code || r.Header.Get("WWW-Authenticate") != tc.auth {
					t.Errorf("got %d %s (WWW-Authenticate %q), want %d %s (%q)", r.Status, r.Raw, r.Header.Get("WWW-Authenticate"), tc.status, tc.code, tc.auth)
				}
			})
		}
	})
}

func TestScopesOfUserTokens(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("sara", "sara@example.com", "password1")
		want := "openid profile email notes:read notes:write"
		if su.str("scope") != want || claims(t, su.str("access_token"))["client_id"] != clients.FirstParty {
			t.Fatalf("signup: scope %q, claims %v", su.str("scope"), claims(t, su.str("access_token")))
		}
		r := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"sara"}, "password": {"password1"}, "scope": {"notes:read openid"}})
		if r.Status != http.StatusOK || r.str("scope") != "notes:read openid" || claims(t, r.str("access_token"))["scope"] != "notes:read openid" {
			t.Fatalf("password grant with scope: %d %s", r.Status, r.Raw)
		}
		if roles, ok := claims(t, r.str("access_token"))["roles"].([]any); !ok || len(roles) != 0 {
			t.Errorf("roles must be an empty array: %v", claims(t, r.str("access_token"))["roles"])
		}
		refresh := func(tok, scope string, header ...string) resp {
			return e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "scope": {scope}}, header...)
		}
		if r := refresh(r.str("refresh_token"), "notes:write"); r.Status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
			t.Fatalf("widening refresh: %d %s", r.Status, r.Raw)
		}
		n := refresh(r.str("refresh_token"), "notes:read") // the failed widening changed nothing
		if n.Status != http.StatusOK || n.str("scope") != "notes:read" {
			t.Fatalf("narrowing refresh: %d %s", n.Status, n.Raw)
		}
		k := refresh(n.str("refresh_token"), "") // keeps the session's scope
		if k.Status != http.StatusOK || k.str("scope") != "notes:read openid" {
			t.Fatalf("refresh without scope: %d %s", k.Status, k.Raw)
		}
		// A token issued to first-party cannot be refreshed or revoked by another client.
		app, _ := e.addClient(clients.Client{Name: "app", Grants: []string{clients.GrantPassword, clients.GrantRefreshToken},
			Scopes: []string{"openid"}, DefaultScopes: []string{"openid"}})
		if r := e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {k.str("refresh_token")}, "client_id": {app}}); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("refresh by another client: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/revoke", url.Values{"token": {k.str("refresh_token")}, "client_id": {app}}); r.Status != http.StatusOK {
			t.Errorf("revoke by another client: %d %s", r.Status, r.Raw)
		}
		if r := refresh(k.str("refresh_token"), ""); r.Status != http.StatusOK {
			t.Errorf("the other client's revoke must change nothing: %d %s", r.Status, r.Raw)
		}
		// The app's own login: its scopes, its sessions.
		a := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"sara"}, "password": {"password1"}, "client_id": {app}})
		if a.Status != http.StatusOK || a.str("scope") != "openid" || claims(t, a.str("access_token"))["client_id"] != app {
			t.Fatalf("app login: %d %s", a.Status, a.Raw)
		}
		if r := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"sara"}, "password": {"password1"}, "client_id": {app}, "scope": {"notes:read"}}); r.Status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
			t.Errorf("app asking for a scope it lacks: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"sara"}, "password": {"password1"}, "client_id": {app}, "client_secret": {"x"}}); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("public client with a secret: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/revoke", url.Values{"token": {a.str("refresh_token")}, "client_id": {app}}); r.Status != http.StatusOK {
			t.Fatalf("own revoke: %d", r.Status)
		}
		if r := e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}, "client_id": {app}}); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("refresh after the app revoked it: %d %s", r.Status, r.Raw)
		}
	})
}
