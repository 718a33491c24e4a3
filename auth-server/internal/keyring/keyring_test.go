package keyring_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var policy = keys.Policy{PublishAhead: 20 * time.Minute, AccessTTL: 15 * time.Minute, JWKSMaxAge: 5 * time.Minute, RotateEvery: 24 * time.Hour}

func newRing(t *testing.T, d *db.DB, c *clock) *keyring.Ring {
	t.Helper()
	sealer, err := keys.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return keyring.New(store.New(d), sealer, policy, "ES256", c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBootstrapRotateRevoke(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, c := context.Background(), &clock{t: time.Now()}
		a, b := newRing(t, d, c), newRing(t, d, c)
		if err := a.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Bootstrap(ctx); err != nil { // a second replica changes nothing
			t.Fatal(err)
		}
		if a.CurrentKID() == "" || a.CurrentKID() != b.CurrentKID() || len(a.Keys()) != 2 {
			t.Fatalf("bootstrap: %q %q %d", a.CurrentKID(), b.CurrentKID(), len(a.Keys()))
		}
		first := a.CurrentKID()
		next, _ := keys.Next(a.Keys())

		_, err := a.Rotate(ctx, false)
		var early *keys.TooEarlyError
		if !errors.As(err, &early) || early.Wait <= 19*time.Minute || early.Wait > 20*time.Minute {
			t.Fatalf("early rotate: %v", err)
		}
		c.Advance(20 * time.Minute)
		res, err := a.Rotate(ctx, false)
		if err != nil || res.Current != next.KID || res.Retired != first {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		// b still holds the old snapshot: its rotation finds the work done.
		if _, err := b.Rotate(ctx, false); !errors.Is(err, keyring.ErrAlreadyRotated) {
			t.Fatalf("stale replica rotate: %v", err)
		}
		if err := b.Reload(ctx); err != nil || b.CurrentKID() != next.KID {
			t.Errorf("b after reload: %s %v", b.CurrentKID(), err)
		}
		// The retired key is still published, so its tokens still verify.
		if body, _ := a.JWKS(); !strings.Contains(string(body), first) {
			t.Error("retired key left the JWKS at once")
		}
		if _, err := a.Revoke(ctx, first); err != nil {
			t.Fatal(err)
		}
		if body, _ := a.JWKS(); strings.Contains(string(body), first) {
			t.Error("revoked kid in the JWKS")
		}
	})
}

// Replicas rotating at the same moment rotate once.
func TestConcurrentRotationRotatesOnce(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, c := context.Background(), &clock{t: time.Now()}
		rings := []*keyring.Ring{newRing(t, d, c), newRing(t, d, c), newRing(t, d, c)}
		for _, r := range rings {
			if err := r.Bootstrap(ctx); err != nil {
				t.Fatal(err)
			}
		}
		c.Advance(21 * time.Minute)
		var wg sync.WaitGroup
		errs := make([]error, len(rings))
		for i, r := range rings {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = r.Rotate(ctx, false) }()
		}
		wg.Wait()
		rotated := 0
		for _, err := range errs {
			switch {
			case err == nil:
				rotated++
			case !errors.Is(err, keyring.ErrAlreadyRotated):
				t.Fatalf("unexpected: %v", err)
			}
		}
		ks, v, err := store.New(d).Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		retired := 0
		for _, k := range ks {
			if k.State == keys.StateRetired {
				retired++
			}
		}
		if rotated != 1 || retired != 1 || v != 2 {
			t.Fatalf("rotated=%d retired=%d version=%d", rotated, retired, v)
		}
	})
}

// A running replica picks up another's change by polling, and rotates automatically when due.
func TestRunPicksUpChangesAndAutoRotates(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	ctx, cancel := context.WithCancel(context.Background())
	c := &clock{t: time.Now()}
	a, b := newRing(t, d, c), newRing(t, d, c)
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { b.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	c.Advance(time.Hour)
	res, err := a.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b to see the rotation", func() bool { return b.CurrentKID() == res.Current })

	// Past RotateEvery, b rotates by itself.
	c.Advance(25 * time.Hour)
	waitFor(t, "automatic rotation", func() bool { return b.CurrentKID() == res.Next })
	// Each rotation is in the audit trail, written in its transaction.
	trail, err := store.New(d).AuditPage(ctx, store.AuditQuery{Type: store.AuditKeyRotated, Limit: 10})
	if err != nil || len(trail) != 2 || !strings.Contains(trail[0].Detail, "current="+res.Next) ||
		!strings.Contains(trail[0].Detail, "automatic=true") || !strings.Contains(trail[1].Detail, "automatic=false") {
		t.Errorf("audit trail of the rotations = %+v, %v", trail, err)
	}
}

// A retired key past its removal time is deleted by the running ring.
func TestRunPrunesRemovedKeys(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	ctx, cancel := context.WithCancel(context.Background())
	c := &clock{t: time.Now()}
	r := newRing(t, d, c)
	if err := r.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	res, err := r.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	c.Advance(policy.AccessTTL + policy.PublishAhead + time.Second)
	waitFor(t, "the retired key to be pruned", func() bool {
		ks, _, err := store.New(d).Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if k.KID == res.Retired {
				return false
			}
		}
		return len(ks) == 2
	})
}

// TestKeysGeneratedOutsideTheTransaction: every key change generates its key material (seconds
// of RSA-2048 in RS256 mode) before it opens the key set's transaction, as dex's rotation does:
// while a key is generated, another process can write the key set and commit. Inside the
// transaction, the generation held the key set's lock, and on SQLite the database's only write
// lock, so that write waited for it (here: until its deadline).
func TestKeysGeneratedOutsideTheTransaction(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, c := context.Background(), &clock{t: time.Now()}
		r, other := newRing(t, d, c), store.New(d)
		generated := 0
		keyring.SetGenerate(r, func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error) {
			generated++
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := other.UpdateKeys(wctx, func([]keys.Key) ([]keys.Key, error) { return nil, store.ErrKeysUnchanged }, nil)
			if !errors.Is(err, store.ErrKeysUnchanged) {
				t.Errorf("another writer of the key set while a key was generated: %v; want it to commit", err)
			}
			return keys.Generate(alg, now, s)
		})
		for _, tc := range []struct {
			name string
			run  func() error
			keys int // generated
		}{
			{"bootstrap", func() error { return r.Bootstrap(ctx) }, 2},
			{"rotate", func() error { _, err := r.Rotate(ctx, true); return err }, 1},
			{"revoke", func() error { _, err := r.Revoke(ctx, r.CurrentKID()); return err }, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				generated = 0
				if err := tc.run(); err != nil {
					t.Fatal(err)
				}
				if generated != tc.keys {
					t.Errorf("generated %d keys, want %d", generated, tc.keys)
				}
			})
		}
	})
}
