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
