package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	bearercheck "github.com/jwtauth/jwtauth/auth-server/internal/bearer"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/server"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// A client registered with EdDSA ID tokens: both metadata documents list EdDSA among
// id_token_signing_alg_values_supported once the ring has loaded its lifecycle, and the
// id_token_hint check (as serve builds it) accepts ID tokens of every lifecycle: RS256, ES256
// and EdDSA. An RS256-only check, as before, would refuse the others.
func TestIDTokenAlgsOfRegisteredClients(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e, ctx := newEnv(t, d), context.Background()
		now := e.clock.Now()
		sc := store.StoredClient{Client: clients.Client{ID: uuid.NewString(), Name: "spa", Grants: []string{clients.GrantAuthorizationCode},
			Scopes: []string{"openid"}, DefaultScopes: []string{"openid"}, IDTokenAlg: "EdDSA"}, CreatedAt: now, UpdatedAt: now}
		change, err := e.ring.ClientLifecycle(ctx, "EdDSA")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateClientWithKeys(ctx, sc, store.AuditEvent{At: now, Event: store.AuditClientAdded}, change); err != nil {
			t.Fatal(err)
		}
		if err := e.ring.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			raw, _ := e.do("GET", p, nil).Body["id_token_signing_alg_values_supported"].([]any)
			var got []string
			for _, a := range raw {
				s, _ := a.(string)
				got = append(got, s)
			}
			if !slices.Equal(got, []string{"RS256", "ES256", "EdDSA"}) {
				t.Errorf("%s: id_token_signing_alg_values_supported = %v, want [RS256 ES256 EdDSA]", p, got)
			}
		}

		iss := e.issuer.WithIDTokenKeys(e.ring)
		hint, err := bearercheck.New(ctx, bearercheck.Config{Issuer: e.cfg.server.Issuer, Audience: []string{"resource-server"},
			Algorithms: clients.IDTokenAlgs(), Keys: e.ring, Leeway: time.Second, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		rsOnly, err := bearercheck.New(ctx, bearercheck.Config{Issuer: e.cfg.server.Issuer, Audience: []string{"resource-server"},
			Algorithm: "RS256", Keys: e.ring, Leeway: time.Second, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"", "RS256", "ES256", "EdDSA"} {
			tok, err := iss.IDToken(tokens.IDTokenClaims{Subject: uuid.NewString(), ClientID: sc.ID, AuthTime: now, SessionID: uuid.NewString(), Alg: alg})
			if err != nil {
				t.Fatalf("sign an ID token with %q: %v", alg, err)
			}
			if got, err := (server.BearerVerifier{V: hint}).VerifyIDToken(ctx, tok); err != nil || got != sc.ID {
				t.Errorf("id_token_hint of alg %q: %q, %v; want accepted for %s", alg, got, err, sc.ID)
			}
			_, err = (server.BearerVerifier{V: rsOnly}).VerifyIDToken(ctx, tok)
			if wantOK := alg == "" || alg == "RS256"; (err == nil) != wantOK {
				t.Errorf("an RS256-only check of alg %q: %v", alg, err)
			}
		}
		// An access token is not an ID token, whatever its key.
		at, _, err := e.issuer.Access(tokens.Subject{UserID: uuid.NewString(), ClientID: sc.ID}, uuid.NewString())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (server.BearerVerifier{V: hint}).VerifyIDToken(ctx, at); err == nil {
			t.Error("an access token was accepted as an id_token_hint")
		}
	})
}
