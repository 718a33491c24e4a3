package keyring_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
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
		// Two lifecycles: ES256 for access tokens, RS256 for ID tokens, each current + next.
		if got := a.Algorithms(); !slices.Equal(got, []string{"ES256", "RS256"}) {
			t.Fatalf("algorithms = %v", got)
		}
		for _, alg := range []string{"ES256", "RS256"} {
			if a.CurrentKIDFor(alg) == "" || a.CurrentKIDFor(alg) != b.CurrentKIDFor(alg) || len(keys.ForAlg(a.Keys(), alg)) != 2 {
				t.Fatalf("bootstrap %s: %q %q %d", alg, a.CurrentKIDFor(alg), b.CurrentKIDFor(alg), len(keys.ForAlg(a.Keys(), alg)))
			}
		}
		if len(a.Keys()) != 4 || a.CurrentKID() != a.CurrentKIDFor("ES256") || !a.Ready() {
			t.Fatalf("bootstrap: %d keys, current %q, ready %t", len(a.Keys()), a.CurrentKID(), a.Ready())
		}
		if sk, err := a.SigningKey(); err != nil || sk.Algorithm != "ES256" {
			t.Fatalf("access signing key: %v %v", sk.Algorithm, err)
		}
		if sk, err := a.SigningKeyFor("RS256"); err != nil || sk.Algorithm != "RS256" {
			t.Fatalf("ID-token signing key: %v %v", sk.Algorithm, err)
		}
		if _, err := a.SigningKeyFor("EdDSA"); !errors.Is(err, keyring.ErrNoSigningKey) {
			t.Fatalf("unmanaged algorithm: %v", err)
		}
		if got := a.IDTokenAlgs(); !slices.Equal(got, []string{"RS256", "ES256"}) {
			t.Errorf("ID-token algorithms = %v", got)
		}
		first := map[string]string{"ES256": a.CurrentKIDFor("ES256"), "RS256": a.CurrentKIDFor("RS256")}
		next := map[string]string{}
		for alg := range first {
			n, _ := keys.NextFor(a.Keys(), alg)
			next[alg] = n.KID
		}
		// The JWKS publishes both lifecycles' keys.
		body, _ := a.JWKS()
		for _, k := range a.Keys() {
			if !strings.Contains(string(body), k.KID) {
				t.Errorf("%s key %s not in the JWKS", k.Alg, k.KID)
			}
		}

		_, err := a.Rotate(ctx, false)
		var early *keys.TooEarlyError
		if !errors.As(err, &early) || early.Wait <= 19*time.Minute || early.Wait > 20*time.Minute {
			t.Fatalf("early rotate: %v", err)
		}
		c.Advance(20 * time.Minute)
		res, err := a.Rotate(ctx, false)
		if err != nil || len(res) != 2 {
			t.Fatalf("rotate: %+v %v", res, err)
		}
		for i, alg := range []string{"ES256", "RS256"} {
			if res[i].Alg != alg || res[i].Current != next[alg] || res[i].Retired != first[alg] || a.CurrentKIDFor(alg) != next[alg] {
				t.Errorf("rotate %s: %+v", alg, res[i])
			}
		}
		// b still holds the old snapshot: its rotation finds the work done.
		if _, err := b.Rotate(ctx, false); !errors.Is(err, keyring.ErrAlreadyRotated) {
			t.Fatalf("stale replica rotate: %v", err)
		}
		if err := b.Reload(ctx); err != nil || b.CurrentKID() != next["ES256"] || b.CurrentKIDFor("RS256") != next["RS256"] {
			t.Errorf("b after reload: %s %s %v", b.CurrentKID(), b.CurrentKIDFor("RS256"), err)
		}
		// The retired keys are still published, so their tokens still verify.
		body, _ = a.JWKS()
		if !strings.Contains(string(body), first["ES256"]) || !strings.Contains(string(body), first["RS256"]) {
			t.Error("retired key left the JWKS at once")
		}
		// Revoking the RS256 signing key touches the RS256 lifecycle alone.
		before := a.CurrentKIDFor("ES256")
		rr, err := a.Revoke(ctx, a.CurrentKIDFor("RS256"))
		if err != nil {
			t.Fatal(err)
		}
		if rr.Alg != "RS256" || rr.Revoked != next["RS256"] || a.CurrentKIDFor("RS256") != rr.Current || a.CurrentKID() != before {
			t.Errorf("revoke RS256: %+v; ES256 current %s, was %s", rr, a.CurrentKID(), before)
		}
		if err := keys.CheckSet(a.Keys()); err != nil {
			t.Error(err)
		}
		if _, err := a.Revoke(ctx, first["ES256"]); err != nil {
			t.Fatal(err)
		}
		body, _ = a.JWKS()
		if strings.Contains(string(body), first["ES256"]) || strings.Contains(string(body), next["RS256"]) {
			t.Error("revoked kid in the JWKS")
		}
		if _, err := a.Revoke(ctx, "no-such-kid"); !errors.Is(err, keys.ErrUnknownKey) {
			t.Errorf("revoke unknown: %v", err)
		}
		// Each change is audited in its transaction, naming the algorithms.
		trail, err := store.New(d).AuditPage(ctx, store.AuditQuery{Type: store.AuditKeyRotated, Limit: 10})
		if err != nil || len(trail) != 1 || !strings.Contains(trail[0].Detail, "alg=ES256 current="+next["ES256"]) ||
			!strings.Contains(trail[0].Detail, "alg=RS256 current="+next["RS256"]) {
			t.Errorf("audit trail of the rotation = %+v, %v", trail, err)
		}
	})
}

// A database made before the RS256 ID-token lifecycle existed (ES256 keys only) gets RS256
// current and next keys at start, its ES256 keys untouched; another replica picks them up.
func TestBootstrapAddsIDTokenLifecycle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, c := context.Background(), &clock{t: time.Now()}
		sealer, err := keys.NewSealer([]byte(strings.Repeat("k", 32)))
		if err != nil {
			t.Fatal(err)
		}
		cur, err := keys.Generate("ES256", c.Now(), sealer)
		if err != nil {
			t.Fatal(err)
		}
		nxt, err := keys.Generate("ES256", c.Now(), sealer)
		if err != nil {
			t.Fatal(err)
		}
		old := keys.Bootstrap(c.Now().Add(-time.Hour), cur, nxt)
		if _, err := store.New(d).UpdateKeys(ctx, func([]keys.Key) ([]keys.Key, error) { return old, nil }, nil); err != nil {
			t.Fatal(err)
		}
		other := newRing(t, d, c)
		if err := other.Reload(ctx); err != nil || other.Ready() {
			t.Fatalf("before: ready %t, %v", other.Ready(), err)
		}
		r := newRing(t, d, c)
		if err := r.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if r.CurrentKID() != cur.KID || len(r.Keys()) != 4 || r.CurrentKIDFor("RS256") == "" || !r.Ready() {
			t.Fatalf("after bootstrap: current %s (want %s), %d keys, RS256 %q", r.CurrentKID(), cur.KID, len(r.Keys()), r.CurrentKIDFor("RS256"))
		}
		if err := keys.CheckSet(r.Keys()); err != nil {
			t.Fatal(err)
		}
		if err := other.Reload(ctx); err != nil || other.CurrentKIDFor("RS256") != r.CurrentKIDFor("RS256") || !other.Ready() {
			t.Fatalf("other replica: %q %v", other.CurrentKIDFor("RS256"), err)
		}
		// Now the lifecycles are out of step: ES256's next key is ready, RS256's is not, and
		// an unforced rotation (of all of them) waits for the later one.
		_, err = r.Rotate(ctx, false)
		var early *keys.TooEarlyError
		if !errors.As(err, &early) || early.Wait <= 19*time.Minute {
			t.Fatalf("rotate with a young RS256 next key: %v", err)
		}
		res, err := r.Rotate(ctx, true)
		if err != nil || len(res) != 2 || res[0].Retired != cur.KID || res[0].Current != nxt.KID {
			t.Fatalf("forced rotate: %+v %v", res, err)
		}
	})
}

// In HS256 mode the ring keeps only the RS256 ID-token lifecycle; access tokens are signed
// with SECRET_KEY, never a key of the ring.
func TestHS256ModeRingHasOnlyIDTokenKeys(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	ctx, c := context.Background(), &clock{t: time.Now()}
	sealer, err := keys.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	r := keyring.New(store.New(d), sealer, policy, "HS256", c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keys.Algs(r.Keys()); !slices.Equal(got, []string{"RS256"}) || len(r.Keys()) != 2 || !r.Ready() {
		t.Fatalf("algorithms %v, %d keys", got, len(r.Keys()))
	}
	if _, err := r.SigningKey(); !errors.Is(err, keyring.ErrNoSigningKey) {
		t.Errorf("access signing key in HS256 mode: %v", err)
	}
	if got := r.IDTokenAlgs(); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("ID-token algorithms = %v", got)
	}
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
		if rotated != 1 || retired != 2 || v != 2 { // one rotation: one ES256 and one RS256 key retired
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
	waitFor(t, "replica b to see the rotation", func() bool {
		return b.CurrentKID() == res[0].Current && b.CurrentKIDFor("RS256") == res[1].Current
	})

	// Past RotateEvery, b rotates by itself: both lifecycles, due together, in one change.
	c.Advance(25 * time.Hour)
	waitFor(t, "automatic rotation", func() bool {
		return b.CurrentKID() == res[0].Next && b.CurrentKIDFor("RS256") == res[1].Next
	})
	// Each rotation is in the audit trail, written in its transaction.
	trail, err := store.New(d).AuditPage(ctx, store.AuditQuery{Type: store.AuditKeyRotated, Limit: 10})
	if err != nil || len(trail) != 2 || !strings.Contains(trail[0].Detail, "current="+res[0].Next) ||
		!strings.Contains(trail[0].Detail, "alg=RS256 current="+res[1].Next) ||
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
			if k.KID == res[0].Retired || k.KID == res[1].Retired {
				return false
			}
		}
		return len(ks) == 4
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
			{"bootstrap", func() error { return r.Bootstrap(ctx) }, 4},                // ES256 and RS256: current and next
			{"rotate", func() error { _, err := r.Rotate(ctx, true); return err }, 2}, // a next key each
			{"revoke RS256", func() error { _, err := r.Revoke(ctx, r.CurrentKIDFor("RS256")); return err }, 1},
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

// A lifecycle of an algorithm the ring no longer manages (ALGORITHM changed from ES256 to
// RS256) stays published until it is revoked, but never signs: not for access tokens, not for
// ID tokens, and it is not rotated.
func TestUnmanagedLifecycleNeverSigns(t *testing.T) {
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
	if sk, err := r.SigningKey(); err != nil || sk.Algorithm != "RS256" || len(r.Keys()) != 4 {
		t.Fatalf("RS256 ring: %v %v, %d keys", sk.Algorithm, err, len(r.Keys()))
	}
	if _, err := r.SigningKeyFor("ES256"); !errors.Is(err, keyring.ErrNoSigningKey) {
		t.Errorf("unmanaged ES256 key signs: %v", err)
	}
	if got := r.IDTokenAlgs(); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("IDTokenAlgs = %v", got)
	}
	if body, _ := r.JWKS(); !strings.Contains(string(body), es.KID) {
		t.Error("the unmanaged lifecycle's keys left the JWKS")
	}
	c.Advance(time.Hour)
	res, err := r.Rotate(ctx, false)
	if err != nil || len(res) != 1 || res[0].Alg != "RS256" {
		t.Fatalf("rotate: %+v %v", res, err)
	}
	if still, _ := keys.CurrentFor(r.Keys(), "ES256"); still.KID != es.KID {
		t.Errorf("the unmanaged lifecycle was rotated: %s, was %s", still.KID, es.KID)
	}
	// Revoking its keys one by one ends it, without fresh ES256 keys; it stays ended.
	generated := 0
	keyring.SetGenerate(r, func(alg string, now time.Time, s *keys.Sealer) (keys.Key, error) {
		generated++
		return keys.Generate(alg, now, s)
	})
	esNext, _ := keys.NextFor(r.Keys(), "ES256")
	if res, err := r.Revoke(ctx, es.KID); err != nil || res.Current != esNext.KID {
		t.Fatalf("revoke the unmanaged current key: %+v %v", res, err)
	}
	if res, err := r.Revoke(ctx, esNext.KID); err != nil || res.Current != "" || res.Next != "" {
		t.Fatalf("revoke the last unmanaged key: %+v %v", res, err)
	}
	if generated != 0 {
		t.Errorf("generated %d keys to revoke an unmanaged lifecycle's keys", generated)
	}
	if err := r.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := keys.CheckSet(r.Keys()); err != nil || !r.Ready() {
		t.Fatalf("after ending ES256: %v, ready %t", err, r.Ready())
	}
	if body, _ := r.JWKS(); strings.Contains(string(body), `"ES256"`) {
		t.Errorf("ES256 keys still published: %s", body)
	}
	if _, ok := keys.CurrentFor(r.Keys(), "ES256"); ok {
		t.Error("the ended lifecycle came back")
	}
}
