package e2e

import (
	"net/http"
	"net/url"
	"testing"
)

// TestBearerEndpointsEveryMode runs every Bearer endpoint of both servers, on the real
// binaries, in every algorithm mode (CONTRACT §3: "every Bearer endpoint of both servers
// accepts the tokens of every mode, HS256 included"; issue 12, defect 1): one stack per
// mode, a signup, then each endpoint with the access tokens the auth server issued.
func TestBearerEndpointsEveryMode(t *testing.T) {
	t.Parallel()
	modes := []struct {
		alg string
		env map[string]string
	}{
		{"ES256", map[string]string{"ALGORITHM": "ES256"}},
		{"RS256", map[string]string{"ALGORITHM": "RS256"}},
		{"EdDSA", map[string]string{"ALGORITHM": "EdDSA"}},
		{"HS256", map[string]string{"ALGORITHM": "HS256", "SECRET_KEY": testSecret}},
	}
	for _, m := range modes {
		t.Run(m.alg, func(t *testing.T) {
			t.Parallel()
			st := startStack(t, StackOptions{Auth: m.env})
			c := newClient(t)
			user := c.signup(st.Auth.URL, "every-"+m.alg)
			if alg := jwtHeader(t, user.Tokens.AccessToken)["alg"]; alg != m.alg {
				t.Fatalf("issued alg %v, want %s", alg, m.alg)
			}
			t.Run("resource server", func(t *testing.T) { resourceTour(t, c, st.Resource.URL, user.Tokens.AccessToken) })
			t.Run("auth server", func(t *testing.T) { authTour(t, c, st.Auth.URL, user) })
		})
	}
}

// resourceTour calls every Bearer endpoint of the resource server with tok.
func resourceTour(t *testing.T, c *Client, base, tok string) {
	c.Get(base+"/whoami", bearer(tok)).Want(t, http.StatusOK)
	c.Get(base+"/me", bearer(tok)).Want(t, http.StatusOK)
	c.Get(base+"/awesome_app", bearer(tok)).Want(t, http.StatusOK)
	c.PostJSON(base+"/awesome_app", map[string]string{"access_token": tok, "msg": "hi"}).Want(t, http.StatusOK)
	var note struct {
		ID string `json:"id"`
	}
	c.PostJSON(base+"/notes", map[string]string{"title": "t", "body": "b"}, bearer(tok)).Want(t, http.StatusCreated).JSON(t, &note)
	c.Get(base+"/notes", bearer(tok)).Want(t, http.StatusOK)
	c.Get(base+"/notes/"+note.ID, bearer(tok)).Want(t, http.StatusOK)
	c.Send(http.MethodDelete, base+"/notes/"+note.ID, nil, bearer(tok)).Want(t, http.StatusNoContent)
}

// authTour calls every Bearer endpoint of the auth server: /me (GET, PATCH, DELETE),
// /sessions, DELETE /sessions/{id}, /password, and /revoke with an access token.
func authTour(t *testing.T, c *Client, base string, user account) {
	tok := user.Tokens.AccessToken
	c.Get(base+"/me", bearer(tok)).Want(t, http.StatusOK)
	patch, ct := jsonBody(map[string]string{"email": "moved-" + user.Email})
	c.Send(http.MethodPatch, base+"/me", patch, bearer(tok), ct).Want(t, http.StatusOK)
	other := c.login(base, user)
	otherSID, _ := jwtClaims(t, other.AccessToken)["sid"].(string)
	c.Get(base+"/sessions", bearer(tok)).Want(t, http.StatusOK)
	c.Send(http.MethodDelete, base+"/sessions/"+otherSID, nil, bearer(tok)).Want(t, http.StatusNoContent)
	c.Get(base+"/me", bearer(other.AccessToken)).Want(t, http.StatusUnauthorized) // that session ended

	newPW := user.Password + " again"
	c.PostJSON(base+"/password", map[string]string{"current_password": user.Password, "new_password": newPW}, bearer(tok)).
		Want(t, http.StatusNoContent)
	user.Password = newPW

	c.PostForm(base+"/revoke", url.Values{"token": {tok}}).Want(t, http.StatusOK)
	c.Get(base+"/me", bearer(tok)).Want(t, http.StatusUnauthorized) // revoked by its access token

	last := c.login(base, user).AccessToken
	del, ct := jsonBody(map[string]string{"password": newPW})
	c.Send(http.MethodDelete, base+"/me", del, bearer(last), ct).Want(t, http.StatusNoContent)
}
