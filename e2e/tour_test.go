package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEveryOperationMatchesTheDocument calls every operation of CONTRACT §6 and §7 on the
// real servers, with its success and its usual client errors, so that the validating
// transport holds docs/openapi.yaml to what the servers really answer (bodies, statuses,
// Cache-Control, Location, WWW-Authenticate). It ends with an account deletion reaching the
// resource server through sync (§6 DELETE /me, §8).
func TestEveryOperationMatchesTheDocument(t *testing.T) {
	t.Parallel()
	s := startStack(t, StackOptions{})
	c := newClient(t)
	for _, p := range []*Proc{s.Auth, s.Resource} {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			c.Get(p.URL+path).Want(t, http.StatusOK)
		}
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		c.Get(s.Auth.URL+path).Want(t, http.StatusOK)
	}
	u := c.signup(s.Auth.URL, "tourist")
	tourAuthErrors(t, c, s.Auth.URL, u)
	tr := tourAuthAccount(t, c, s.Auth.URL, u)
	tourResource(t, c, s.Resource.URL, tr.AccessToken)

	u.Password = "a new password"
	body, ct := jsonBody(map[string]string{"password": u.Password})
	c.Send(http.MethodDelete, s.Auth.URL+"/me", body, ct, bearer(tr.AccessToken)).Want(t, http.StatusNoContent)
	// The deletion reaches the resource server: the account's token is refused as revoked.
	ok := poll(pickupTimeout, func() bool {
		r := c.Get(s.Resource.URL+"/me", bearer(tr.AccessToken))
		return r.StatusCode == http.StatusUnauthorized && strings.Contains(string(r.Body), "revoked")
	})
	if !ok {
		t.Errorf("the deleted account's token is still accepted after %s", pickupTimeout)
	}
}

// tourAuthErrors provokes the auth server's documented client errors.
func tourAuthErrors(t *testing.T, c *Client, authURL string, u account) {
	t.Helper()
	c.PostJSON(authURL+"/signup", map[string]string{"username": u.Username, "email": "x" + u.Email, "password": u.Password}).
		Want(t, http.StatusConflict)
	c.PostJSON(authURL+"/signup", map[string]string{"username": "no spaces allowed", "email": "a@example.com", "password": "long enough"}, invalid()).
		Want(t, http.StatusBadRequest)
	c.Send(http.MethodPost, authURL+"/signup", strings.NewReader("hello"), header("Content-Type", "text/plain"), invalid()).
		Want(t, http.StatusUnsupportedMediaType)
	big := map[string]string{"username": "big", "email": "big@example.com", "password": strings.Repeat("p", 70<<10)}
	c.PostJSON(authURL+"/signup", big, invalid()).Want(t, http.StatusRequestEntityTooLarge)
	c.PostJSON(authURL+"/login", map[string]string{"username": u.Username, "password": "wrong password"}).
		Want(t, http.StatusUnauthorized)
	c.PostForm(authURL+"/token", url.Values{"grant_type": {"implicit"}}, invalid()).Want(t, http.StatusBadRequest)
	c.PostJSON(authURL+"/refresh", map[string]string{"refresh_token": "not-a-token"}).Want(t, http.StatusBadRequest)
	c.Get(authURL+"/sessions", bearer("not.a.token")).Want(t, http.StatusUnauthorized)
	c.Get(authURL+"/me", invalid()).Want(t, http.StatusUnauthorized)
}

// tourAuthAccount uses the account endpoints and returns a live token pair.
func tourAuthAccount(t *testing.T, c *Client, authURL string, u account) tokenResponse {
	t.Helper()
	var tr tokenResponse
	c.PostForm(authURL+"/token", url.Values{"grant_type": {"password"}, "username": {u.Username}, "password": {u.Password}}).
		Want(t, http.StatusOK).JSON(t, &tr)
	c.PostJSON(authURL+"/refresh", map[string]string{"refresh_token": tr.RefreshToken}).Want(t, http.StatusOK).JSON(t, &tr)
	tok := bearer(tr.AccessToken)
	c.Get(authURL+"/sessions", tok).Want(t, http.StatusOK)
	c.Send(http.MethodDelete, authURL+"/sessions/00000000-0000-0000-0000-000000000000", nil, tok).Want(t, http.StatusNotFound)
	body, ct := jsonBody(map[string]string{"email": "moved-" + u.Email})
	c.Send(http.MethodPatch, authURL+"/me", body, ct, tok).Want(t, http.StatusOK)
	c.PostJSON(authURL+"/password", map[string]string{"current_password": "wrong password", "new_password": "a new password"}, tok).
		Want(t, http.StatusForbidden)
	c.PostJSON(authURL+"/password", map[string]string{"current_password": u.Password, "new_password": "a new password"}, tok).
		Want(t, http.StatusNoContent)

	// The signup's session was ended by the password change; end two more ways.
	other := c.login(authURL, account{Username: u.Username, Password: "a new password"})
	c.PostForm(authURL+"/revoke", url.Values{"token": {other.AccessToken}, "token_type_hint": {"access_token"}}).Want(t, http.StatusOK)
	c.Get(authURL+"/me", bearer(other.AccessToken)).Want(t, http.StatusUnauthorized)
	third := c.login(authURL, account{Username: u.Username, Password: "a new password"})
	c.PostJSON(authURL+"/logout", map[string]string{"refresh_token": third.RefreshToken}).Want(t, http.StatusNoContent)
	c.PostJSON(authURL+"/refresh", map[string]string{"refresh_token": third.RefreshToken}).Want(t, http.StatusBadRequest)
	c.Get(authURL+"/me", tok).Want(t, http.StatusOK)
	return tr
}

// tourResource uses every resource-server operation once.
func tourResource(t *testing.T, c *Client, resURL, access string) {
	t.Helper()
	tok := bearer(access)
	c.Get(resURL+"/whoami", tok).Want(t, http.StatusOK)
	c.Get(resURL+"/whoami", bearer("not.a.token")).Want(t, http.StatusUnauthorized)
	c.Get(resURL+"/awesome_app", tok).Want(t, http.StatusOK)
	var note struct{ ID string }
	r := c.PostJSON(resURL+"/notes", map[string]string{"title": "first", "body": "hello"}, tok).Want(t, http.StatusCreated)
	r.JSON(t, &note)
	c.PostJSON(resURL+"/notes", map[string]string{"title": ""}, tok, invalid()).Want(t, http.StatusBadRequest)
	c.Get(resURL+"/notes", tok).Want(t, http.StatusOK)
	c.Get(resURL+"/notes/"+note.ID, tok).Want(t, http.StatusOK)
	c.Send(http.MethodDelete, resURL+"/notes/"+note.ID, nil, tok).Want(t, http.StatusNoContent)
	c.Get(resURL+"/notes/"+note.ID, tok).Want(t, http.StatusNotFound)
	c.PostJSON(resURL+"/sync/users", map[string]any{"events": []any{}}, invalid()).Want(t, http.StatusUnauthorized)
	c.PostJSON(resURL+"/sync/users", map[string]any{"events": []any{}}, tok).Want(t, http.StatusUnauthorized)
}
