package e2e

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestClientIDTokenAlg: `clients add --id-token-alg ES256` on two running replicas whose
// ALGORITHM is RS256, so that no ES256 key existed: the registration creates the ES256
// lifecycle, and both replicas, without a restart, list ES256 in their metadata, publish its
// keys, and sign that client's ID tokens ES256 (from the code exchange and from a refresh),
// which golang.org/x/oauth2 and coreos/go-oidc (pinned to ES256) accept, and which the
// replica's /logout accepts as id_token_hint. Bad values are refused and write nothing.
func TestClientIDTokenAlg(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTH_DATABASE_URL": testdb.PostgresURL(t), "ALGORITHM": "RS256"}
	replicas := startReplicas(t, 2, env)
	a, b := replicas[0], replicas[1]
	c := newClient(t)
	user := c.signup(a.URL, "esuser")
	const redirect, bye = "http://127.0.0.1:9/cb", "http://127.0.0.1:9/bye"

	if got := idTokenAlgsOf(t, c, b.URL); !slices.Equal(got, []string{"RS256"}) {
		t.Fatalf("before: id_token_signing_alg_values_supported = %v, want [RS256]", got)
	}
	keysBefore := a.MustCLI("keys", "list", "--json").Stdout
	for _, bad := range []string{"HS256", "es256", "PS256", ""} {
		res := a.CLI("clients", "add", "bad app", "--redirect-uri", redirect, "--id-token-alg", bad)
		if res.Code == 0 || !strings.Contains(res.Stderr, "RS256, ES256, EdDSA") {
			t.Errorf("--id-token-alg %q: %s\nwant a failure listing RS256, ES256, EdDSA", bad, res)
		}
	}
	if out := a.MustCLI("clients", "list").Stdout; strings.Contains(out, "bad app") {
		t.Errorf("a refused client was written:\n%s", out)
	}
	if got := a.MustCLI("keys", "list", "--json").Stdout; got != keysBefore {
		t.Errorf("a refused client changed the keys:\n%s\nwant\n%s", got, keysBefore)
	}

	clientID := addClient(t, a, "ES256 app", "--id-token-alg", "ES256", "--redirect-uri", redirect, "--post-logout-uri", bye)
	if out := a.MustCLI("clients", "show", clientID).Stdout; !regexp.MustCompile(`(?m)^ID token alg: +ES256$`).MatchString(out) {
		t.Errorf("clients show:\n%s", out)
	}
	var esKID string
	for _, k := range listAllKeys(t, a) {
		if k.Alg == "ES256" && k.State == "current" {
			esKID = k.KID
		}
	}
	if esKID == "" {
		t.Fatalf("no current ES256 key after the registration:\n%s", a.MustCLI("keys", "list").Stdout)
	}
	for _, p := range replicas {
		if !poll(pickupTimeout, func() bool { return slices.Contains(idTokenAlgsOf(t, c, p.URL), "ES256") }) {
			t.Fatalf("%s does not list ES256 %s after the registration: %v", p.Name, pickupTimeout, idTokenAlgsOf(t, c, p.URL))
		}
	}

	ctx := context.Background()
	for _, p := range replicas {
		t.Run(p.Name, func(t *testing.T) {
			// Every endpoint on this replica; the issuer is the first one's (startReplicas).
			conf := oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile"},
				Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
			keySet := oidc.NewRemoteKeySet(ctx, p.URL+"/.well-known/jwks.json")
			es := oidc.NewVerifier(a.URL, keySet, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.ES256}})
			rsOnly := oidc.NewVerifier(a.URL, keySet, &oidc.Config{ClientID: clientID}) // go-oidc's default: RS256

			ver, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
			br := newBrowser(t)
			authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(ver), oidc.Nonce(nonce))
			_, page := br.get(authURL)
			loc := br.loginThroughPage(p.URL, page, user)
			if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
				t.Fatalf("redirect after login: %s", loc)
			}
			tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(ver))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			checkIDTokenHeader(t, rawID, "ES256", esKID)
			idt, err := es.Verify(ctx, rawID)
			if err != nil || idt.Nonce != nonce || idt.Subject != user.ID {
				t.Fatalf("go-oidc (ES256) on the ID token: %v (nonce %v)", err, idt)
			}
			if _, err := rsOnly.Verify(ctx, rawID); err == nil {
				t.Error("an RS256-only relying party accepted the ES256 ID token")
			}

			fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			rawFresh, _ := fresh.Extra("id_token").(string)
			checkIDTokenHeader(t, rawFresh, "ES256", esKID)
			if again, err := es.Verify(ctx, rawFresh); err != nil || again.Subject != user.ID {
				t.Errorf("the refreshed ID token: %v", err)
			}

			// The ES256 ID token is a valid id_token_hint on this replica's /logout.
			resp, _ := br.get(p.URL + "/logout?id_token_hint=" + rawID + "&post_logout_redirect_uri=" + url.QueryEscape(bye) + "&state=st")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != bye+"?state=st" {
				t.Errorf("logout with an ES256 hint: %d to %q; want 302 to %s?state=st", resp.StatusCode, resp.Header.Get("Location"), bye)
			}
		})
	}

	// keys rotate covers the new lifecycle.
	if out := b.MustCLI("keys", "rotate", "--force").Stdout; !strings.Contains(out, "alg ES256\n") {
		t.Errorf("keys rotate did not rotate ES256:\n%s", out)
	}
}

// idTokenAlgsOf is the server's id_token_signing_alg_values_supported (OpenID metadata).
func idTokenAlgsOf(t *testing.T, c *Client, base string) []string {
	t.Helper()
	var m struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	c.Get(base+"/.well-known/openid-configuration").Want(t, http.StatusOK).JSON(t, &m)
	return m.Algs
}

// checkIDTokenHeader checks an ID token's JOSE header: alg, kid and typ JWT.
func checkIDTokenHeader(t *testing.T, raw, alg, kid string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ID token %q is not a JWS of %s: %v", raw, alg, err)
	}
	h := jws.Signatures[0].Header
	if h.Algorithm != alg || h.KeyID != kid || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("ID token header: alg %q kid %q typ %v; want %s, %s, JWT", h.Algorithm, h.KeyID, h.ExtraHeaders["typ"], alg, kid)
	}
}
