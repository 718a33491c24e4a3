package appstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
)

// clock is the injected, movable clock of the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// conformance runs fn on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
func conformance(t *testing.T, fn func(t *testing.T, s *appstore.Store, c *clock)) {
	testdb.Each(t, db.AppSchema, func(t *testing.T, d *db.DB) {
		c := &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		fn(t, appstore.New(d, c.now), c)
	})
}

func upsert(id, user string, version int64, name string) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeUpsert,
		User: syncevent.User{ID: user, Username: name, Email: name + "@example.com", Version: version}}
}

func del(id, user string, version int64) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeDelete, User: syncevent.User{ID: user, Username: "x", Email: "x@example.com", Version: version}}
}

func apply(t *testing.T, s *appstore.Store, events ...syncevent.Event) appstore.Result {
	t.Helper()
	r, err := s.Apply(context.Background(), events)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return r
}

func wantResult(t *testing.T, got appstore.Result, applied, ignored int) {
	t.Helper()
	if got.Applied != applied || got.Ignored != ignored {
		t.Fatalf("result = %d applied, %d ignored; want %d, %d", got.Applied, got.Ignored, applied, ignored)
	}
}

func wantUser(t *testing.T, s *appstore.Store, id, username string, version int64, deleted bool) appstore.User {
	t.Helper()
	u, err := s.User(context.Background(), id)
	if err != nil {
		t.Fatalf("User(%s): %v", id, err)
	}
	if u.Username != username || u.Version != version || u.Deleted != deleted {
		t.Fatalf("user = {%q v%d deleted=%v}, want {%q v%d deleted=%v}", u.Username, u.Version, u.Deleted, username, version, deleted)
	}
	return u
}

func TestEnsureUser(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		ctx := context.Background()
		who := appstore.Identity{ID: "u1", Username: "alice", Email: "alice@example.com"}
		u, err := s.EnsureUser(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		if u.Version != 0 || u.Username != "alice" || u.Email != "alice@example.com" || !u.CreatedAt.Equal(c.now()) {
			t.Fatalf("created from claims = %+v", u)
		}
		// A second call with other claims reads the row, it does not overwrite it.
		if u, err = s.EnsureUser(ctx, appstore.Identity{ID: "u1", Username: "other"}); err != nil || u.Username != "alice" {
			t.Fatalf("second EnsureUser = %+v, %v", u, err)
		}
		wantResult(t, apply(t, s, upsert("e1", "u1", 1, "alice2")), 1, 0)
		wantUser(t, s, "u1", "alice2", 1, false)
		if _, err := s.User(ctx, "nobody"); !errors.Is(err, appstore.ErrNotFound) {
			t.Fatalf("User(unknown) err = %v, want ErrNotFound", err)
		}
	})
}

func TestApplyIdempotentAndOrdered(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		wantResult(t, apply(t, s, upsert("e1", "u1", 1, "a1"), upsert("e1", "u1", 1, "a1")), 1, 1)
		wantResult(t, apply(t, s, upsert("e1", "u1", 1, "a1")), 0, 1)
		// The version decides, not the id: the same version under a fresh id (a replay's)
		// changes nothing either.
		wantResult(t, apply(t, s, upsert("r1", "u1", 1, "a1")), 0, 1)
		wantUser(t, s, "u1", "a1", 1, false)

		wantResult(t, apply(t, s, upsert("e3", "u1", 3, "a3")), 1, 0)
		tests := []struct {
			name string
			ev   syncevent.Event
		}{
			{"older upsert", upsert("e2", "u1", 2, "a2")},
			{"equal upsert", upsert("e3b", "u1", 3, "a3b")},
			{"older delete", del("e2d", "u1", 2)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantResult(t, apply(t, s, tt.ev), 0, 1)
				wantUser(t, s, "u1", "a3", 3, false)
			})
		}
		// Out-of-order arrival inside one batch ends on the newest version.
		wantResult(t, apply(t, s, upsert("f5", "u2", 5, "b5"), upsert("f4", "u2", 4, "b4")), 1, 1)
		wantUser(t, s, "u2", "b5", 5, false)
	})
}

func TestTombstone(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		ctx := context.Background()
		alice := appstore.Identity{ID: "u1", Username: "alice", Email: "alice@example.com"}
		for i := range 3 {
			if _, err := s.CreateNote(ctx, alice, fmt.Sprintf("t%d", i), "b"); err != nil {
				t.Fatal(err)
			}
		}
		bob := appstore.Identity{ID: "u2", Username: "bob"}
		bobNote, err := s.CreateNote(ctx, bob, "bob's", "")
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, apply(t, s, upsert("e1", "u1", 1, "alice"), del("e2", "u1", 2)), 2, 0)
		u := wantUser(t, s, "u1", "", 2, true)
		if u.Email != "" {
			t.Fatalf("tombstone keeps email %q", u.Email)
		}
		if notes, err := s.Notes(ctx, "u1"); err != nil || len(notes) != 0 {
			t.Fatalf("notes after delete = %d, %v; want none", len(notes), err)
		}
		if _, err := s.Note(ctx, "u2", bobNote.ID); err != nil {
			t.Fatalf("other user's note gone: %v", err)
		}
		// An older upsert arriving late cannot resurrect the user, nor can its token.
		wantResult(t, apply(t, s, upsert("e1b", "u1", 1, "alice")), 0, 1)
		wantUser(t, s, "u1", "", 2, true)
		if _, err := s.EnsureUser(ctx, alice); !errors.Is(err, appstore.ErrUserDeleted) {
			t.Fatalf("EnsureUser(deleted) err = %v, want ErrUserDeleted", err)
		}
		if _, err := s.CreateNote(ctx, alice, "t", "b"); !errors.Is(err, appstore.ErrUserDeleted) {
			t.Fatalf("CreateNote(deleted) err = %v, want ErrUserDeleted", err)
		}
		// A delete of a user never seen leaves a tombstone too.
		wantResult(t, apply(t, s, del("e9", "u9", 4), upsert("e8", "u9", 3, "late")), 1, 1)
		wantUser(t, s, "u9", "", 4, true)
	})
}

func TestNotesIsolation(t *testing.T) {
	conformance(t, func(t *testing.T, s *appstore.Store, c *clock) {
		ctx := context.Background()
		a := appstore.Identity{ID: "ua", Username: "a"}
		b := appstore.Identity{ID: "ub", Username: "b"}
		n1, err := s.CreateNote(ctx, a, "first", "one")
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		n2, err := s.CreateNote(ctx, a, "second", "two")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Notes(ctx, "ua")
		if err != nil || len(got) != 2 || got[0].ID != n1.ID || got[1].ID != n2.ID {
			t.Fatalf("Notes(a) = %+v, %v; want [first second]", got, err)
		}
		if got[0].Title != "first" || got[0].Body != "one" || !got[0].CreatedAt.Equal(n1.CreatedAt) {
			t.Fatalf("stored note = %+v, created %+v", got[0], n1)
		}
		if got, err := s.Notes(ctx, "ub"); err != nil || len(got) != 0 {
			t.Fatalf("Notes(b) = %+v, %v; want none", got, err)
		}
		if _, err := s.Note(ctx, b.ID, n1.ID); !errors.Is(err, appstore.ErrNotFound) {
			t.Fatalf("b reads a's note: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteNote(ctx, b.ID, n1.ID); !errors.Is(err, appstore.ErrNotFound) {
			t.Fatalf("b deletes a's note: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteNote(ctx, a.ID, n1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Note(ctx, a.ID, n1.ID); !errors.Is(err, appstore.ErrNotFound) {
			t.Fatalf("deleted note: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteNote(ctx, a.ID, n1.ID); !errors.Is(err, appstore.ErrNotFound) {
			t.Fatalf("second delete: err = %v, want ErrNotFound", err)
		}
	})
}
