package keyring_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
)

func clientWithAlg(name, alg string, at time.Time) store.StoredClient {
	return store.StoredClient{Client: clients.Client{ID: uuid.NewString(), Name: name, Grants: []string{clients.GrantAuthorizationCode},
		Scopes: []string{"openid"}, DefaultScopes: []string{"openid"}, IDTokenAlg: alg}, CreatedAt: at, UpdatedAt: at}
}

// registerWithAlg registers a client of ID-token algorithm alg as the CLI does: the ring
// prepares the key change, the store commits it with the client.
func registerWithAlg(ctx context.Context, r *keyring.Ring, st *store.Store, sc store.StoredClient) error {
	change, err := r.ClientLifecycle(ctx, sc.IDTokenAlg)
	if err != nil {
		return err
	}
	return st.CreateClientWithKeys(ctx, sc, store.AuditEvent{At: sc.CreatedAt, Event: store.AuditClientAdded}, change)
}

// TestClientAlgorithmLifecycle: a client registered with EdDSA ID tokens brings an EdDSA
// lifecycle (current and next) in its own transaction; another running replica picks it up
// at its next poll without a restart (signs with it, lists it for discovery, publishes it),
// rotation (forced, and automatic) covers it, and a second EdDSA client generates nothing. A
// registration that fails (name taken) writes no key.
func TestClientAlgorithmLifecycle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, c := context.Background(), &clock{t: time.Now()}
		a, b, st := newRing(t, d, c), newRing(t, d, c), store.New(d)
		for _, r := range []*keyring.Ring{a, b} {
			if err := r.Bootstrap(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { b.Run(runCtx, 10*time.Millisecond); close(done) }()
		defer func() { cancel(); <-done }()

		if err := st.CreateClient(ctx, clientWithAlg("taken", "", c.Now()), store.AuditEvent{At: c.Now(), Event: store.AuditClientAdded}); err != nil {
			t.Fatal(err)
		}
		v0, _ := st.KeySetVersion(ctx)
		if err := registerWithAlg(ctx, a, st, clientWithAlg("TAKEN", "EdDSA", c.Now())); !errors.Is(err, store.ErrClientExists) {
			t.Fatalf("a taken name: %v, want ErrClientExists", err)
		}
		ks, v1, _ := st.Keys(ctx)
		if v1 != v0 || len(keys.ForAlg(ks, "EdDSA")) != 0 {
			t.Fatalf("a refused registration wrote keys: version %d → %d, %d EdDSA keys", v0, v1, len(keys.ForAlg(ks, "EdDSA")))
		}

		if err := registerWithAlg(ctx, a, st, clientWithAlg("spa", "EdDSA", c.Now())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the other replica to sign EdDSA ID tokens", func() bool {
			sk, err := b.SigningKeyFor("EdDSA")
			return err == nil && sk.Algorithm == "EdDSA"
		})
		if got := b.IDTokenAlgs(); !slices.Equal(got, []string{"RS256", "ES256", "EdDSA"}) {
			t.Errorf("IDTokenAlgs on the other replica = %v", got)
		}
		if got := b.Algorithms(); !slices.Equal(got, []string{"ES256", "RS256", "EdDSA"}) {
			t.Errorf("Algorithms on the other replica = %v", got)
		}
		cur, next := b.CurrentKIDFor("EdDSA"), ""
		if k, ok := keys.NextFor(b.Keys(), "EdDSA"); ok {
			next = k.KID
		}
		if body, _ := b.JWKS(); next == "" || !strings.Contains(string(body), cur) || !strings.Contains(string(body), next) {
			t.Errorf("the JWKS lacks the EdDSA keys (current %q, next %q):\n%s", cur, next, body)
		}
		if !b.Ready() {
			t.Error("the other replica is not ready")
		}

		// keys rotate covers the new lifecycle.
		if err := a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := a.Rotate(ctx, true)
		if err != nil || len(res) != 3 || res[2].Alg != "EdDSA" || res[2].Current != next || res[2].Retired != cur {
			t.Fatalf("Rotate = %+v, %v; want EdDSA rotated (%s → current, %s retired)", res, err, next, cur)
		}
		waitFor(t, "the other replica to sign with the rotated EdDSA key", func() bool { return b.CurrentKIDFor("EdDSA") == next })

		// Automatic rotation too, on the replica that only learnt of EdDSA by polling.
		c.Advance(policy.RotateEvery + policy.PublishAhead)
		waitFor(t, "the automatic rotation of the EdDSA lifecycle", func() bool {
			return b.CurrentKIDFor("EdDSA") != next && b.CurrentKIDFor("EdDSA") != ""
		})

		// A second client of the same algorithm: no key generated, the keys unchanged.
		generated := 0
		keyring.SetGenerate(a, func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error) {
			generated++
			return keys.Generate(alg, now, s)
		})
		if err := a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		before := keys.ForAlg(a.Keys(), "EdDSA")
		if err := registerWithAlg(ctx, a, st, clientWithAlg("spa2", "EdDSA", c.Now())); err != nil {
			t.Fatal(err)
		}
		ks, _, _ = st.Keys(ctx)
		if after := keys.ForAlg(ks, "EdDSA"); generated != 0 || len(after) != len(before) {
			t.Errorf("a second EdDSA client: %d keys generated, %d EdDSA keys → %d", generated, len(before), len(after))
		}
		if _, err := a.ClientLifecycle(ctx, "HS256"); !errors.Is(err, keys.ErrUnsupportedAlg) {
			t.Errorf("ClientLifecycle(HS256) = %v, want ErrUnsupportedAlg", err)
		}
	})
}

// A client registering the algorithm of a lifecycle the ring stopped managing (ALGORITHM
// changed from ES256 to RS256) brings it back: its current key signs that client's ID tokens
// again, and it is rotated again. No key is generated: the lifecycle has a current key.
func TestClientRevivesUnmanagedLifecycle(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	ctx, c := context.Background(), &clock{t: time.Now()}
	if err := newRing(t, d, c).Bootstrap(ctx); err != nil { // ES256 + RS256
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	r := keyring.New(store.New(d), sealer, policy, "RS256", c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	es, _ := keys.CurrentFor(r.Keys(), "ES256")
	if _, err := r.SigningKeyFor("ES256"); !errors.Is(err, keyring.ErrNoSigningKey) {
		t.Fatalf("unmanaged ES256 signs: %v", err)
	}
	if err := registerWithAlg(ctx, r, store.New(d), clientWithAlg("mobile", "ES256", c.Now())); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r.CurrentKIDFor("ES256") != es.KID || !slices.Equal(r.IDTokenAlgs(), []string{"RS256", "ES256"}) || len(r.Keys()) != 4 {
		t.Errorf("after an ES256 client: current ES256 %q (want %q), IDTokenAlgs %v, %d keys", r.CurrentKIDFor("ES256"), es.KID, r.IDTokenAlgs(), len(r.Keys()))
	}
	if res, err := r.Rotate(ctx, true); err != nil || len(res) != 2 || res[1].Alg != "ES256" || res[1].Retired != es.KID {
		t.Errorf("Rotate = %+v, %v; want the ES256 lifecycle rotated too", res, err)
	}
}
