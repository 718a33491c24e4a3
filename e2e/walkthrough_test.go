package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestWalkthrough follows the README's walkthrough on the real binaries (CONTRACT §1, §3,
// §6, §7): signup, login (form, and JSON with the email), /me at both servers, /whoami, the
// JWKS with its caching headers, a refresh, and `keys list`. On the embedded SQLite default
// (no database URL, no KEY_ENCRYPTION_KEY: both generated in the data folder) and on
// PostgreSQL.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name string
		opts func(t *testing.T) StackOptions
	}{
		{"sqlite", func(t *testing.T) StackOptions {
			return StackOptions{Auth: map[string]string{"KEY_ENCRYPTION_KEY": ""}}
		}},
		{"postgres", func(t *testing.T) StackOptions {
			a, r := pgEnv(t)
			return StackOptions{Auth: a, Resource: r}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			walkthrough(t, startStack(t, b.opts(t)))
		})
	}
}

func walkthrough(t *testing.T, s *Stack) {
	c := newClient(t)
	alice := c.signup(s.Auth.URL, "alice")
	if strings.Count(alice.Tokens.RefreshToken, ".") != 0 || alice.Tokens.TokenType != "Bearer" {
		t.Errorf("signup token response: %+v", alice.Tokens)
	}
	tr := c.login(s.Auth.URL, alice)
	byEmail := c.PostJSON(s.Auth.URL+"/login", map[string]string{"username": alice.Email, "password": alice.Password})
	byEmail.Want(t, http.StatusOK)

	h := jwtHeader(t, tr.AccessToken)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
		t.Errorf("access token header %v, want typ at+jwt, alg ES256 and a kid", h)
	}

	var me struct{ ID, Username, Email string }
	c.Get(s.Auth.URL+"/me", bearer(tr.AccessToken)).Want(t, http.StatusOK).JSON(t, &me)
	if me.ID != alice.ID || me.Username != "alice" || me.Email != alice.Email {
		t.Errorf("auth /me = %+v, want alice %s", me, alice.ID)
	}
	var app struct{ ID, Username string }
	c.Get(s.Resource.URL+"/me", bearer(tr.AccessToken)).Want(t, http.StatusOK).JSON(t, &app)
	if app.ID != alice.ID || app.Username != "alice" {
		t.Errorf("resource /me = %+v, want alice %s", app, alice.ID)
	}
	var who struct {
		Iss, Sub, Typ string
		Aud           []string
	}
	c.Get(s.Resource.URL+"/whoami", bearer(tr.AccessToken)).Want(t, http.StatusOK).JSON(t, &who)
	if who.Sub != alice.ID || who.Iss != s.Auth.env["AUTH_ISSUER"] || !slices.Contains(who.Aud, "resource-server") {
		t.Errorf("whoami = %+v", who)
	}
	c.Get(s.Resource.URL+"/me", invalid()).Want(t, http.StatusUnauthorized)

	checkJWKS(t, c, s.Auth.URL, kidOf(t, tr.AccessToken))

	var next tokenResponse
	c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}).
		Want(t, http.StatusOK).JSON(t, &next)
	if next.RefreshToken == tr.RefreshToken || next.AccessToken == "" {
		t.Errorf("refresh did not rotate the refresh token")
	}
	c.Get(s.Resource.URL+"/me", bearer(next.AccessToken)).Want(t, http.StatusOK)

	list := s.Auth.MustCLI("keys", "list")
	if lines := strings.Split(strings.TrimSpace(list.Stdout), "\n"); len(lines) < 3 ||
		strings.Join(strings.Fields(lines[0]), " ") != "KID ALG STATE CREATED ACTIVATED RETIRED REMOVE_AT" {
		t.Errorf("keys list: want the header and a current and a next key, got:\n%s", list.Stdout)
	}
}

// checkJWKS fetches the JWKS (which must publish kid), then again with If-None-Match: 304.
func checkJWKS(t *testing.T, c *Client, authURL, kid string) {
	t.Helper()
	r := c.Get(authURL+"/.well-known/jwks.json").Want(t, http.StatusOK)
	if !slices.Contains(jwksKIDs(t, r), kid) {
		t.Errorf("JWKS does not publish the signing kid %s: %s", kid, r.Body)
	}
	etag := r.Header.Get("ETag")
	c.Get(authURL+"/.well-known/jwks.json", header("If-None-Match", etag)).Want(t, http.StatusNotModified)
}

// jwksKIDs returns the kids of a JWKS response.
func jwksKIDs(t testing.TB, r *Response) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	r.JSON(t, &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}
