package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
)

const testIssuer = "https://auth.example.test"

// idEnv is an Issuer whose access tokens are ES256 and ID tokens come from a real key ring
// (RS256 lifecycle beside the ES256 one), with the ring's JWKS served over HTTP.
type idEnv struct {
	ring   *keyring.Ring
	issuer *tokens.Issuer
	jwks   string
}

func newIDEnv(t *testing.T, extra ...string) idEnv {
	t.Helper()
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	sealer, err := keys.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	policy := keys.Policy{PublishAhead: 20 * time.Minute, AccessTTL: 15 * time.Minute, JWKSMaxAge: 5 * time.Minute}
	ring := keyring.New(store.New(d), sealer, policy, "ES256", time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ring.AddAlgorithms(extra...)
	if err := ring.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, _ := ring.JWKS()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	iss := tokens.NewIssuer(testIssuer, []string{"api"}, 15*time.Minute, ring, time.Now).WithIDTokenKeys(ring)
	return idEnv{ring: ring, issuer: iss, jwks: srv.URL}
}

func (e idEnv) verifier(clientID string, algs ...string) *oidc.IDTokenVerifier {
	ctx := context.Background()
	return oidc.NewVerifier(testIssuer, oidc.NewRemoteKeySet(ctx, e.jwks), &oidc.Config{ClientID: clientID, SupportedSigningAlgs: algs})
}

var idClaims = tokens.IDTokenClaims{
	Subject: "0b6f7c8e-1d2a-4e3b-9c4d-5e6f7a8b9c0d", ClientID: "web-app", AuthTime: time.Now().Add(-time.Minute),
	Nonce: "n-0S6_WzA2Mj", AMR: []string{"pwd", "otp"}, SessionID: "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60",
	Username: "alice", EmailAddress: "alice@example.test", EmailVerified: true,
}

// An ID token is signed RS256 with the ring's RS256 key (kid in the header, typ JWT) and
// verifies with go-oidc against the JWKS, aud = client_id; the profile and email claims are
// there only when asked for, nonce only when sent.
func TestIDTokenVerifiesWithGoOIDC(t *testing.T) {
	e := newIDEnv(t)
	ctx := context.Background()
	c := idClaims
	c.Profile, c.Email = true, true
	tok, err := e.issuer.IDToken(c)
	if err != nil {
		t.Fatal(err)
	}
	var header map[string]any
	decodePart(t, strings.Split(tok, ".")[0], &header)
	if header["typ"] != "JWT" || header["alg"] != "RS256" || header["kid"] != e.ring.CurrentKIDFor("RS256") {
		t.Errorf("header %v, want typ JWT, alg RS256, kid %s", header, e.ring.CurrentKIDFor("RS256"))
	}
	idt, err := e.verifier("web-app").Verify(ctx, tok) // RS256 only: go-oidc's default
	if err != nil {
		t.Fatal(err)
	}
	if idt.Subject != c.Subject || idt.Nonce != c.Nonce || idt.Issuer != testIssuer || !slices.Equal(idt.Audience, []string{"web-app"}) {
		t.Errorf("id token %+v", idt)
	}
	var got struct {
		AuthTime          int64    `json:"auth_time"`
		AMR               []string `json:"amr"`
		SID               string   `json:"sid"`
		PreferredUsername string   `json:"preferred_username"`
		Email             string   `json:"email"`
		EmailVerified     *bool    `json:"email_verified"`
		Iat, Exp          int64
	}
	if err := idt.Claims(&got); err != nil {
		t.Fatal(err)
	}
	if got.AuthTime != c.AuthTime.Unix() || !slices.Equal(got.AMR, c.AMR) || got.SID != c.SessionID ||
		got.PreferredUsername != "alice" || got.Email != "alice@example.test" || got.EmailVerified == nil || !*got.EmailVerified ||
		got.Exp-got.Iat != int64(15*time.Minute/time.Second) {
		t.Errorf("claims %+v", got)
	}
	// Another client's verifier refuses it.
	if _, err := e.verifier("other-app").Verify(ctx, tok); err == nil {
		t.Error("verified with another client_id")
	}

	// Without profile and email scopes, and without a nonce: none of those claims.
	c = idClaims
	c.Nonce = ""
	tok, err = e.issuer.IDToken(c)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	decodePart(t, strings.Split(tok, ".")[1], &raw)
	for _, name := range []string{"nonce", "preferred_username", "email", "email_verified"} {
		if raw[name] != nil {
			t.Errorf("%s present: %s", name, raw[name])
		}
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "amr", "sid"} {
		if raw[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if _, err := e.verifier("web-app").Verify(ctx, tok); err != nil {
		t.Error(err)
	}
}

// A client that registered another algorithm gets its ID tokens signed with that lifecycle's
// key; an algorithm the ring does not manage is an error, not an RS256 token.
func TestIDTokenOtherAlgorithm(t *testing.T) {
	e := newIDEnv(t, "EdDSA")
	ctx := context.Background()
	for _, alg := range []string{"ES256", "EdDSA"} {
		c := idClaims
		c.Alg = alg
		tok, err := e.issuer.IDToken(c)
		if err != nil {
			t.Fatal(err)
		}
		var header map[string]any
		decodePart(t, strings.Split(tok, ".")[0], &header)
		if header["alg"] != alg || header["kid"] != e.ring.CurrentKIDFor(alg) {
			t.Errorf("header %v", header)
		}
		if _, err := e.verifier("web-app", alg).Verify(ctx, tok); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		// A client expecting RS256 (go-oidc's default) refuses it.
		if _, err := e.verifier("web-app").Verify(ctx, tok); err == nil {
			t.Errorf("%s token verified by an RS256-only verifier", alg)
		}
	}
	c := idClaims
	c.Alg = "PS256"
	if _, err := e.issuer.IDToken(c); !errors.Is(err, keyring.ErrNoSigningKey) {
		t.Errorf("unmanaged algorithm: %v", err)
	}
	if got := e.ring.IDTokenAlgs(); !slices.Equal(got, []string{"RS256", "ES256", "EdDSA"}) {
		t.Errorf("IDTokenAlgs = %v", got)
	}
}

// Access and sync tokens keep the access-token key; an Issuer without ID-token keys says so.
func TestIDTokenKeysLeaveAccessTokensAlone(t *testing.T) {
	e := newIDEnv(t)
	tok, _, err := e.issuer.Access(subject, "sid")
	if err != nil {
		t.Fatal(err)
	}
	var header map[string]any
	decodePart(t, strings.Split(tok, ".")[0], &header)
	if header["alg"] != "ES256" || header["kid"] != e.ring.CurrentKID() || header["typ"] != "at+jwt" {
		t.Errorf("access token header %v", header)
	}
	plain := tokens.NewIssuer(testIssuer, []string{"api"}, time.Minute, e.ring, time.Now)
	if _, err := plain.IDToken(idClaims); !errors.Is(err, tokens.ErrNoIDTokenKeys) {
		t.Errorf("no ID-token keys: %v", err)
	}
}
