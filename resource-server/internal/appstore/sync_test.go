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

func TestAppliedEventsPruned(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		wantResult(t, apply(t, s, upsert("old", "u1", 1, "a1")), 1, 0)
		c.advance(appstore.AppliedEventsRetention + time.Hour)
		wantResult(t, apply(t, s, upsert("new", "u1", 2, "a2")), 1, 0)
		// "old" was forgotten; its replay is still ignored, by version.
		wantResult(t, apply(t, s, upsert("old", "u1", 1, "a1")), 0, 1)
		wantUser(t, s, "u1", "a2", 2, false)
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
