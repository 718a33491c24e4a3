package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jwtauth/jwtauth/keys"
)

// TestIDTokenKeyLifecycle checks issue 16's key half on the binaries, with ES256 access tokens:
// the key set carries an RS256 lifecycle for ID tokens beside the ES256 one (JWKS, `keys
// list`, metadata); `keys rotate --force` rotates both; tokens keep verifying at the resource
// server; the resource server, pinned to ES256, refuses an RS256 access token although RS256
// keys are published (and so does the auth server's own Bearer check); an OpenID client
// (go-oidc) verifies an RS256 ID token against the served JWKS.
func TestIDTokenKeyLifecycle(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{Auth: map[string]string{"ALGORITHM": "ES256", "KEY_PUBLISH_AHEAD": "1s", "JWKS_MAX_AGE": "1s"}})
	auth, c := st.Auth, newClient(t)
	jwksURL := auth.URL + "/.well-known/jwks.json"

	jwksAlgs := func() map[string][]string {
		var doc struct {
			Keys []struct{ KID, Alg string } `json:"keys"`
		}
		c.Get(jwksURL).Want(t, http.StatusOK).JSON(t, &doc)
		out := map[string][]string{}
		for _, k := range doc.Keys {
			out[k.Alg] = append(out[k.Alg], k.KID)
		}
		return out
	}
	byAlg := func(ks []listedKey) map[string]map[string]string { // alg → state → kid
		out := map[string]map[string]string{}
		for _, k := range ks {
			if out[k.Alg] == nil {
				out[k.Alg] = map[string]string{}
			}
			out[k.Alg][k.State] = k.KID
		}
		return out
	}

	// Both lifecycles, current and next each, listed and published.
	before := byAlg(listAllKeys(t, auth))
	for _, alg := range []string{"ES256", "RS256"} {
		if before[alg]["current"] == "" || before[alg]["next"] == "" || len(before[alg]) != 2 {
			t.Fatalf("keys list: %s lifecycle %v", alg, before[alg])
		}
		if got := jwksAlgs()[alg]; len(got) != 2 {
			t.Errorf("JWKS %s keys %v, want current and next", alg, got)
		}
	}
	if text := auth.MustCLI("keys", "list").Stdout; !strings.Contains(text, " ES256 ") || !strings.Contains(text, " RS256 ") {
		t.Errorf("keys list does not show both algorithms:\n%s", text)
	}
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		var md struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		c.Get(auth.URL+p).Want(t, http.StatusOK).JSON(t, &md)
		if !slices.Equal(md.Algs, []string{"RS256", "ES256"}) {
			t.Errorf("%s: id_token_signing_alg_values_supported = %v", p, md.Algs)
		}
	}

	user := c.signup(auth.URL, "idkeys")
	old := user.Tokens.AccessToken
	if h := jwtHeader(t, old); h["alg"] != "ES256" || h["kid"] != before["ES256"]["current"] {
		t.Fatalf("access token header %v", h)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(old)).Want(t, http.StatusOK)

	// keys rotate --force rotates both lifecycles.
	out := auth.MustCLI("keys", "rotate", "--force").Stdout
	after := byAlg(listAllKeys(t, auth))
	for _, alg := range []string{"ES256", "RS256"} {
		if after[alg]["current"] != before[alg]["next"] || after[alg]["retired"] != before[alg]["current"] || after[alg]["next"] == "" {
			t.Errorf("%s after rotate: %v, before %v", alg, after[alg], before[alg])
		}
		if !strings.Contains(out, "retired "+before[alg]["current"]+", alg "+alg) {
			t.Errorf("keys rotate output lacks the %s rotation:\n%s", alg, out)
		}
	}
	waitSigningKID(t, c, user, after["ES256"]["current"], auth)
	fresh := c.login(auth.URL, user).AccessToken
	c.Get(st.Resource.URL+"/whoami", bearer(fresh)).Want(t, http.StatusOK)
	c.Get(st.Resource.URL+"/whoami", bearer(old)).Want(t, http.StatusOK) // its key is retired, still published

	// The private keys, as the server stored them, to sign what the server would not.
	rows := readSigningKeys(t, "sqlite:"+filepath.Join(auth.Dir, "data", "auth.db"))
	es := signingKeyOf(t, rows, after["ES256"]["current"])
	rs := signingKeyOf(t, rows, after["RS256"]["current"])

	// An access token with the server's claims: signed ES256 it verifies (the forgery is
	// faithful); signed RS256 with a published RS256 key, both servers refuse it.
	claims := jwtClaims(t, fresh)
	c.Get(st.Resource.URL+"/whoami", bearer(signJWT(t, es, "at+jwt", claims))).Want(t, http.StatusOK)
	rsAccess := signJWT(t, rs, "at+jwt", claims)
	if h := jwtHeader(t, rsAccess); h["alg"] != "RS256" || h["kid"] != after["RS256"]["current"] {
		t.Fatalf("forged header %v", h)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(rsAccess)).Want(t, http.StatusUnauthorized)
	c.Get(auth.URL+"/me", bearer(rsAccess)).Want(t, http.StatusUnauthorized)

	// An RS256 ID token signed with the current RS256 key verifies with go-oidc against the
	// live JWKS, for its client only.
	now := time.Now()
	idTok := signJWT(t, rs, "JWT", map[string]any{
		"iss": auth.env["AUTH_ISSUER"], "sub": user.ID, "aud": "web-app", "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "auth_time": now.Unix(), "nonce": "n-1", "amr": []string{"pwd"}, "sid": "s-1",
	})
	ctx := context.Background()
	ks := oidc.NewRemoteKeySet(ctx, jwksURL)
	idt, err := oidc.NewVerifier(auth.env["AUTH_ISSUER"], ks, &oidc.Config{ClientID: "web-app"}).Verify(ctx, idTok)
	if err != nil || idt.Subject != user.ID || idt.Nonce != "n-1" {
		t.Fatalf("go-oidc: %v %+v", err, idt)
	}
	if _, err := oidc.NewVerifier(auth.env["AUTH_ISSUER"], ks, &oidc.Config{ClientID: "other"}).Verify(ctx, idTok); err == nil {
		t.Error("go-oidc accepted the ID token for another client")
	}

	// Revoking the RS256 key takes it out of the JWKS and leaves the ES256 lifecycle alone.
	auth.MustCLI("keys", "revoke", after["RS256"]["current"])
	waitJWKS(t, c, "the revoked RS256 key gone", func(kids []string) bool {
		return !slices.Contains(kids, after["RS256"]["current"]) && slices.Contains(kids, after["ES256"]["current"])
	}, auth)
	if got := byAlg(listAllKeys(t, auth)); got["ES256"]["current"] != after["ES256"]["current"] || got["RS256"]["current"] != after["RS256"]["next"] {
		t.Errorf("after revoking the RS256 current key: %v", got)
	}
}

// signingKeyOf opens the stored private key kid (sealed under the tests' KEY_ENCRYPTION_KEY).
func signingKeyOf(t *testing.T, rows []map[string][]byte, kid string) jose.SigningKey {
	t.Helper()
	kek, err := keys.ParseKEK(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if string(r["kid"]) != kid {
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(string(r["private_sealed"]))
		if err != nil {
			t.Fatal(err)
		}
		sk, err := sealer.SigningKey(keys.Key{KID: kid, Alg: string(r["alg"]), PublicJWK: r["public_jwk"], Sealed: sealed})
		if err != nil {
			t.Fatal(err)
		}
		return sk
	}
	t.Fatalf("no stored key %s", kid)
	return jose.SigningKey{}
}

// signJWT signs claims with key, typ in the header.
func signJWT(t *testing.T, key jose.SigningKey, typ string, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestHS256ModeIDTokenKeys: in HS256 mode access tokens are signed with SECRET_KEY, and the
// key ring keeps an RS256 lifecycle for ID tokens alone (embedded SQLite: its generated
// key-encryption key). The JWKS publishes those RS256 keys and never the secret; the metadata
// lists RS256; `keys list` shows them; HS256 access tokens verify as before.
func TestHS256ModeIDTokenKeys(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{Auth: map[string]string{"ALGORITHM": "HS256", "SECRET_KEY": testSecret, "KEY_ENCRYPTION_KEY": ""}})
	c := newClient(t)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	c.Get(st.Auth.URL+"/.well-known/jwks.json").Want(t, http.StatusOK).JSON(t, &doc)
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the RS256 current and next", len(doc.Keys))
	}
	for _, k := range doc.Keys {
		if k["alg"] != "RS256" || k["kty"] != "RSA" || k["k"] != nil || k["d"] != nil {
			t.Errorf("JWKS key %v", k)
		}
	}
	var md struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	c.Get(st.Auth.URL+"/.well-known/openid-configuration").Want(t, http.StatusOK).JSON(t, &md)
	if !slices.Equal(md.Algs, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256]", md.Algs)
	}
	ks := listAllKeys(t, st.Auth)
	if len(ks) != 2 || ks[0].Alg != "RS256" || ks[1].Alg != "RS256" {
		t.Errorf("keys list: %+v", ks)
	}
	user := c.signup(st.Auth.URL, "hs-idkeys")
	if alg := jwtHeader(t, user.Tokens.AccessToken)["alg"]; alg != "HS256" {
		t.Fatalf("access token alg %v, want HS256", alg)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(user.Tokens.AccessToken)).Want(t, http.StatusOK)
	c.Get(st.Auth.URL+"/me", bearer(user.Tokens.AccessToken)).Want(t, http.StatusOK)
	st.Auth.MustCLI("keys", "rotate", "--force")
	if ks := listAllKeys(t, st.Auth); len(ks) != 3 {
		t.Errorf("after rotate: %+v", ks)
	}
}
