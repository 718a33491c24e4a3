package appstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
)

func TestApplyRefusesInvalidBatch(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		good := upsert("ok", "u1", 1, "alice")
		tests := []struct {
			name string
			ev   syncevent.Event
		}{
			{"unknown type", syncevent.Event{ID: "x", Type: "user.rename", User: syncevent.User{ID: "u1", Version: 1}}},
			{"no event id", upsert("", "u1", 1, "a")},
			{"no user id", upsert("x", "", 1, "a")},
			{"negative version", upsert("x", "u1", -1, "a")},
			{"NUL in username", upsert("x", "u1", 1, "a\x00b")},
			{"invalid UTF-8", upsert("x", "u1", 1, "a\xffb")},
			{"oversized email", syncevent.Event{ID: "x", Type: syncevent.TypeUpsert, User: syncevent.User{ID: "u1", Email: string(make([]byte, 400))}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Apply(context.Background(), []syncevent.Event{good, tt.ev})
				if !errors.Is(err, appstore.ErrInvalidEvent) {
					t.Fatalf("err = %v, want ErrInvalidEvent", err)
				}
				if _, err := s.User(context.Background(), "u1"); !errors.Is(err, appstore.ErrNotFound) {
					t.Fatalf("the valid event of a refused batch was applied: %v", err)
				}
			})
		}
		wantResult(t, apply(t, s), 0, 0)
	})
}

func TestApplyConcurrent(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		// The same batch delivered by several replicas at once is applied exactly once.
		var batch []syncevent.Event
		for i := range 10 {
			batch = append(batch, upsert(fmt.Sprintf("e%d", i), fmt.Sprintf("u%d", i%3), int64(i+1), fmt.Sprintf("n%d", i)))
		}
		const workers = 4
		results := make([]appstore.Result, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// Each worker sends the events in another order.
				mine := append([]syncevent.Event(nil), batch[w:]...)
				mine = append(mine, batch[:w]...)
				results[w], errs[w] = s.Apply(context.Background(), mine)
			})
		}
		wg.Wait()
		applied := 0
		for w := range workers {
			if errs[w] != nil {
				t.Fatalf("worker %d: %v", w, errs[w])
			}
			if got := results[w].Applied + results[w].Ignored; got != len(batch) {
				t.Fatalf("worker %d counted %d events, want %d", w, got, len(batch))
			}
			applied += results[w].Applied
		}
		if applied < 3 || applied > len(batch) {
			t.Fatalf("applied %d in total, want between 3 and %d", applied, len(batch))
		}
		wantUser(t, s, "u0", "n9", 10, false)
		wantUser(t, s, "u1", "n7", 8, false)
		wantUser(t, s, "u2", "n8", 9, false)
	})
}

func TestNoteRacesDelete(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		// Whatever the interleaving, a deleted user ends with no notes.
		ctx := context.Background()
		for round := range 5 {
			id := fmt.Sprintf("u%d", round)
			who := appstore.Identity{ID: id, Username: id}
			if _, err := s.EnsureUser(ctx, who); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 4 {
				wg.Go(func() {
					if _, err := s.CreateNote(ctx, who, "t", "b"); err != nil && !errors.Is(err, appstore.ErrUserDeleted) {
						errs <- err
					}
				})
			}
			wg.Go(func() {
				if _, err := s.Apply(ctx, []syncevent.Event{del("d"+id, id, 1)}); err != nil {
					errs <- err
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if notes, err := s.Notes(ctx, id); err != nil || len(notes) != 0 {
				t.Fatalf("round %d: deleted user has %d notes (%v)", round, len(notes), err)
			}
		}
	})
}

func TestEnsureUserConcurrent(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				if _, err := s.EnsureUser(context.Background(), appstore.Identity{ID: "u1", Username: "alice"}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantUser(t, s, "u1", "alice", 0, false)
	})
}

// TestAppliedEventsPruned: the ids of applied revocations are remembered (a repeat counts as
// ignored) until AppliedEventsRetention has passed and another revocation arrives; then the
// old id is forgotten and its repeat counts as applied again, harmlessly. User events leave
// no id behind: the version decides.
func TestAppliedEventsPruned(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		exp := c.now().Add(appstore.AppliedEventsRetention + 2*time.Hour)
		wantResult(t, apply(t, s, sessionRevoked("old", "s1", exp)), 1, 0)
		wantResult(t, apply(t, s, sessionRevoked("old", "s1", exp)), 0, 1)
		c.advance(appstore.AppliedEventsRetention + time.Hour)
		wantResult(t, apply(t, s, upsert("u", "u1", 1, "a1")), 1, 0) // no revocation: nothing pruned
		wantResult(t, apply(t, s, sessionRevoked("old", "s1", exp)), 0, 1)
		wantResult(t, apply(t, s, sessionRevoked("new", "s2", exp)), 1, 0)
		wantResult(t, apply(t, s, sessionRevoked("old", "s1", exp)), 1, 0)
		wantResult(t, apply(t, s, upsert("u", "u1", 1, "a1")), 0, 1)
	})
}

func TestUnavailable(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), "app")
	s := appstore.New(d, time.Now)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	checks := map[string]error{
		"ping":   s.Ping(context.Background()),
		"ensure": func() error { _, err := s.EnsureUser(context.Background(), appstore.Identity{ID: "u"}); return err }(),
		"notes":  func() error { _, err := s.Notes(context.Background(), "u"); return err }(),
		"apply": func() error {
			_, err := s.Apply(context.Background(), []syncevent.Event{upsert("e", "u", 1, "a")})
			return err
		}(),
	}
	for name, err := range checks {
		if !errors.Is(err, appstore.ErrUnavailable) {
			t.Errorf("%s on a closed database: err = %v, want ErrUnavailable", name, err)
		}
	}
}

// TestApplyMixedBatch sends one batch of events of distinct users (applied together) mixed
// with two users that have several events (applied one by one, in array order), a delete, a
// repeated id, a stale version and a revocation: the outcome is that of applying the events
// one by one in array order.
func TestApplyMixedBatch(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		ctx := context.Background()
		exp := c.now().Add(15 * time.Minute)
		if _, err := s.CreateNote(ctx, appstore.Identity{ID: "gone", Username: "gone"}, "t", "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateNote(ctx, appstore.Identity{ID: "back", Username: "back"}, "t", "b"); err != nil {
			t.Fatal(err)
		}
		wantResult(t, apply(t, s, upsert("old", "stale", 5, "s5"), upsert("seen", "u9", 1, "n1")), 2, 0)
		res := apply(t, s,
			upsert("a1", "u1", 1, "a"),
			upsert("b2", "twice", 2, "t2"), // the same user twice: in order, both applied
			del("g3", "gone", 3),           // alone: a tombstone, its notes removed
			upsert("b3", "twice", 3, "t3"),
			upsert("seen", "u9", 1, "n1"),  // an id already applied
			upsert("s4", "stale", 4, "s4"), // older than what is held
			sessionRevoked("r1", "s1", exp),
			del("k1", "back", 1), upsert("k2", "back", 2, "back2"), // deleted, then back: notes gone
			upsert("z1", "u2", 7, "z"),
		)
		wantResult(t, res, 8, 2)
		if len(res.Revocations) != 1 || res.Revocations[0].SessionID != "s1" {
			t.Fatalf("revocations = %+v, want s1", res.Revocations)
		}
		wantUser(t, s, "u1", "a", 1, false)
		wantUser(t, s, "twice", "t3", 3, false)
		wantUser(t, s, "gone", "", 3, true)
		wantUser(t, s, "u9", "n1", 1, false)
		wantUser(t, s, "stale", "s5", 5, false)
		wantUser(t, s, "back", "back2", 2, false)
		wantUser(t, s, "u2", "z", 7, false)
		for _, id := range []string{"gone", "back"} {
			if notes, err := s.Notes(ctx, id); err != nil || len(notes) != 0 {
				t.Fatalf("notes of %s after its delete = %d, %v; want none", id, len(notes), err)
			}
		}
		// The same batch again changes nothing.
		again := apply(t, s, upsert("a1", "u1", 1, "a"), del("g3", "gone", 3), upsert("z1", "u2", 7, "z"))
		wantResult(t, again, 0, 3)
	})
}

// TestApplyLargeBatch applies more user events than one statement of the bulk path holds.
func TestApplyLargeBatch(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		var batch []syncevent.Event
		for i := range 1200 {
			batch = append(batch, upsert(fmt.Sprintf("e%d", i), fmt.Sprintf("u%d", i), 1, fmt.Sprintf("n%d", i)))
		}
		wantResult(t, apply(t, s, batch...), 1200, 0)
		wantUser(t, s, "u1199", "n1199", 1, false)
		wantResult(t, apply(t, s, batch[600:]...), 0, 600)
	})
}
