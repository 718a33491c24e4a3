package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
)

func newClient(name string, confidential bool) store.StoredClient {
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := store.StoredClient{Client: clients.Client{ID: uuid.NewString(), Name: name, Confidential: confidential,
		RedirectURIs: []string{"https://" + name + ".example/cb"}, Grants: []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken},
		Scopes: []string{"openid", "notes:read"}, DefaultScopes: []string{"openid"}, Roles: []string{}},
		CreatedAt: now, UpdatedAt: now}
	if confidential {
		_, c.SecretHash, _ = clients.NewSecret()
	}
	return c
}

func TestClients(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now()
		shop, app := newClient("shop", true), newClient("app", false)
		for _, c := range []store.StoredClient{shop, app} {
			if err := s.CreateClient(ctx, c, store.AuditEvent{At: now, Event: store.AuditClientAdded, Detail: c.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateClient(ctx, newClient("SHOP", false), store.AuditEvent{At: now, Event: store.AuditClientAdded}); !errors.Is(err, store.ErrClientExists) {
			t.Errorf("duplicate name in another case: %v, want ErrClientExists", err)
		}
		got, err := s.ClientByID(ctx, shop.ID)
		if err != nil || got.Name != "shop" || !got.Confidential || got.SecretHash != shop.SecretHash ||
			!slices.Equal(got.RedirectURIs, shop.RedirectURIs) || !slices.Equal(got.Grants, shop.Grants) ||
			!slices.Equal(got.Scopes, shop.Scopes) || !slices.Equal(got.DefaultScopes, shop.DefaultScopes) || len(got.Roles) != 0 {
			t.Fatalf("ClientByID = %+v, %v; want %+v", got, err, shop)
		}
		if _, err := s.ClientByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown client: %v", err)
		}
		all, err := s.Clients(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "app" || all[1].Name != "shop" {
			t.Fatalf("Clients = %+v, %v; want app, shop", all, err)
		}

		_, hash, _ := clients.NewSecret()
		if err := s.SetClientSecret(ctx, shop.ID, hash, now, store.AuditEvent{At: now, Event: store.AuditClientSecret}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClientByID(ctx, shop.ID); got.SecretHash != hash {
			t.Errorf("secret not rotated")
		}
		if err := s.SetClientSecret(ctx, app.ID, hash, now, store.AuditEvent{At: now, Event: store.AuditClientSecret}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a public client has no secret to rotate: %v", err)
		}

		// Removing a client revokes the sessions issued to it, and no other.
		u := newUser("carol")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		mine, other := newSession(u.ID, shop.ID), newSession(u.ID, "")
		for _, x := range []store.Session{mine, other} {
			if err := s.CreateSession(ctx, x, uuid.NewString(), x.ExpiresAt, store.AuditEvent{At: now, Event: store.AuditLoginSuccess}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.RemoveClient(ctx, shop.ID, now, store.AuditEvent{At: now, Event: store.AuditClientRemoved})
		if err != nil || n != 1 {
			t.Fatalf("RemoveClient = %d, %v; want 1 session revoked", n, err)
		}
		live, err := s.ListSessions(ctx, u.ID, now)
		if err != nil || len(live) != 1 || live[0].ID != other.ID || live[0].ClientID != clients.FirstParty {
			t.Fatalf("live sessions after removal = %+v, %v; want only the first-party one", live, err)
		}
		if _, err := s.RemoveClient(ctx, shop.ID, now, store.AuditEvent{At: now, Event: store.AuditClientRemoved}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second removal: %v", err)
		}
		trail, err := s.AuditEvents(ctx, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range trail {
			count[e.Event]++
		}
		if count[store.AuditClientAdded] != 2 || count[store.AuditClientSecret] != 1 || count[store.AuditClientRemoved] != 1 {
			t.Errorf("audit trail counts %v; want 2 added, 1 secret, 1 removed (none for the failed attempts)", count)
		}
	})
}

func newSession(userID, clientID string) store.Session {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.Session{ID: uuid.NewString(), UserID: userID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: now.Add(time.Hour), ClientID: clientID, Scope: []string{"openid"}}
}

// CreateClientWithKeys commits the client, its audit event and the key change together, and
// bumps the key set's version even when the change keeps the keys (so replicas reload and read
// the clients' algorithms); a failure of either part writes neither. ClientIDTokenAlgs lists the
// distinct registered algorithms.
func TestCreateClientWithKeys(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now()
		ev := store.AuditEvent{At: now, Event: store.AuditClientAdded}
		fake := keys.Key{KID: "k1", Alg: "EdDSA", State: keys.StateCurrent, PublicJWK: []byte(`{}`), Sealed: []byte("x"), CreatedAt: now, ActivatedAt: now}
		add := func(old []keys.Key) ([]keys.Key, error) { return append(old, fake), nil }
		keep := func(old []keys.Key) ([]keys.Key, error) { return old, nil }

		spa := newClient("spa", false)
		spa.IDTokenAlg = "EdDSA"
		if err := s.CreateClientWithKeys(ctx, spa, ev, add); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClientByID(ctx, spa.ID); err != nil || got.IDTokenAlg != "EdDSA" {
			t.Fatalf("ClientByID = %+v, %v; want id_token_alg EdDSA", got, err)
		}
		ks, v, err := s.Keys(ctx)
		if err != nil || len(ks) != 1 || ks[0].KID != "k1" || v != 1 {
			t.Fatalf("keys after the registration: %+v version %d, %v", ks, v, err)
		}

		// A name taken: neither the client nor the keys.
		dup := newClient("SPA", false)
		dup.IDTokenAlg = "ES256"
		if err := s.CreateClientWithKeys(ctx, dup, ev, func(old []keys.Key) ([]keys.Key, error) {
			return append(old, keys.Key{KID: "k2", Alg: "ES256", State: keys.StateCurrent, PublicJWK: []byte(`{}`), Sealed: []byte("x"), CreatedAt: now}), nil
		}); !errors.Is(err, store.ErrClientExists) {
			t.Fatalf("a taken name: %v, want ErrClientExists", err)
		}
		// A failing key change: no client.
		boom := errors.New("boom")
		other := newClient("other", false)
		other.IDTokenAlg = "ES256"
		if err := s.CreateClientWithKeys(ctx, other, ev, func([]keys.Key) ([]keys.Key, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("a failing key change: %v", err)
		}
		if _, err := s.ClientByID(ctx, other.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the client of a failed key change was written: %v", err)
		}
		if ks, v, _ := s.Keys(ctx); len(ks) != 1 || v != 1 {
			t.Errorf("refused registrations changed the keys: %d keys, version %d", len(ks), v)
		}

		// Keys kept: the version moves all the same.
		spa2 := newClient("spa2", false)
		spa2.IDTokenAlg = "EdDSA"
		if err := s.CreateClientWithKeys(ctx, spa2, ev, keep); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.KeySetVersion(ctx); v != 2 {
			t.Errorf("version after a registration that kept the keys = %d, want 2", v)
		}
		if err := s.CreateClient(ctx, newClient("plain", false), ev); err != nil {
			t.Fatal(err)
		}
		mobile := newClient("mobile", false)
		mobile.IDTokenAlg = "ES256"
		if err := s.CreateClient(ctx, mobile, ev); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClientIDTokenAlgs(ctx); err != nil || !slices.Equal(got, []string{"ES256", "EdDSA"}) {
			t.Errorf("ClientIDTokenAlgs = %v, %v; want [ES256 EdDSA]", got, err)
		}
		if got, _ := s.ClientByID(ctx, spa2.ID); got.IDTokenAlg != "EdDSA" {
			t.Errorf("spa2 id_token_alg = %q", got.IDTokenAlg)
		}
	})
}
