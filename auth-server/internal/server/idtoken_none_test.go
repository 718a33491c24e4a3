package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// A server with no ID-token keys (HS256 on PostgreSQL without KEY_ENCRYPTION_KEY: no key
// ring, no ID-token signer) claims no ID-token algorithm and no openid scope in its metadata,
// and /authorize refuses openid with invalid_scope instead of issuing a code whose exchange
// could not sign its ID token; a request without openid still gets a code, and one without a
// scope gets the client's defaults without openid.
func TestNoIDTokenKeys(t *testing.T) {
	e := newHS256Env(t, testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema))
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		r := e.do("GET", p, nil)
		algs, ok := r.Body["id_token_signing_alg_values_supported"].([]any)
		if !ok || len(algs) != 0 {
			t.Errorf("%s: id_token_signing_alg_values_supported = %v, want []", p, r.Body["id_token_signing_alg_values_supported"])
		}
		var scopes []string
		for _, s := range r.Body["scopes_supported"].([]any) {
			scopes = append(scopes, s.(string))
		}
		if slices.Contains(scopes, "openid") || !slices.Contains(scopes, "profile") {
			t.Errorf("%s: scopes_supported = %v, want profile and no openid", p, scopes)
		}
	}
	e.signup("nokeys", "nokeys@example.com", "password1")
	const redirect = "https://app.example/cb"
	id, _ := e.addClient(clients.Client{Name: "no-keys", RedirectURIs: []string{redirect},
		Grants: []string{clients.GrantAuthorizationCode}, Scopes: []string{"openid", "profile"}, DefaultScopes: []string{"openid", "profile"}})
	cookie := e.loginCookie("nokeys", "password1")
	authorize := func(scope string) url.Values {
		t.Helper()
		w := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(w, authorizeRequest(id, redirect, scope, cookie))
		loc, err := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
			t.Fatalf("scope %q: %d, Location %q", scope, w.Code, w.Header().Get("Location"))
		}
		return loc.Query()
	}
	if got := authorize("openid profile"); got.Get("error") != "invalid_scope" || got.Get("code") != "" ||
		!strings.Contains(got.Get("error_description"), "KEY_ENCRYPTION_KEY") {
		t.Errorf("openid without ID-token keys: %v, want invalid_scope naming KEY_ENCRYPTION_KEY", got)
	}
	if got := authorize("profile"); got.Get("code") == "" || got.Get("error") != "" {
		t.Errorf("profile: %v, want a code", got)
	}
	// No scope: the client's defaults, granted without openid.
	code := authorize("").Get("code")
	tok := e.do("POST", "/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {testVerifier}})
	if tok.Status != http.StatusOK || tok.str("scope") != "profile" || tok.str("id_token") != "" {
		t.Errorf("the defaults' code exchanged: %d %s, want scope profile and no id_token", tok.Status, tok.Raw)
	}
}
