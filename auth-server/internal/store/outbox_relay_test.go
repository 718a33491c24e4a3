package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Conformance of the relay's side of the outbox, on SQLite and PostgreSQL.

const lease = time.Minute

func outboxUser(t testing.TB, s *store.Store, at time.Time, targets ...string) store.User {
	t.Helper()
	name := testdb.Name("u")
	u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "h",
		Version: 1, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateUser(context.Background(), u, targets); err != nil {
		t.Fatal(err)
	}
	return u
}

func bump(t testing.TB, s *store.Store, id string, at time.Time, targets ...string) {
	t.Helper()
	if _, err := s.UpdateUser(context.Background(), id, at, targets, func(u *store.User) error { u.Email = "x" + u.Email; return nil }, store.AuditEvent{At: at, Event: store.AuditUserUpdated, UserID: id}); err != nil {
		t.Fatal(err)
	}
}

func claim(t testing.TB, s *store.Store, target string, now time.Time, limit int) []store.Delivery {
	t.Helper()
	ds, err := s.ClaimDeliveries(context.Background(), target, now, lease, limit)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return ds
}

// versions renders claimed deliveries as "user:version" keys, for comparisons.
func versions(ds []store.Delivery, names map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, d := range ds {
		out[fmt.Sprintf("%s:%d", names[d.UserID], d.Version)] = true
	}
	return out
}

func TestClaimOrderPerUser(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		u := outboxUser(t, s, t0, "A", "B")
		w := outboxUser(t, s, t0, "A")
		bump(t, s, u.ID, t0, "A", "B")
		bump(t, s, u.ID, t0, "A", "B")
		names := map[string]string{u.ID: "u", w.ID: "w"}

		steps := []struct {
			name string
			at   time.Time
			do   func(t *testing.T, got []store.Delivery)
			want []string
		}{
			{name: "heads only", at: t0, want: []string{"u:1", "w:1"}, do: func(t *testing.T, got []store.Delivery) {
				var ids []string
				for _, d := range got {
					if d.UserID == u.ID {
						ids = append(ids, d.EventID)
					}
					var ev syncevent.Event
					if err := json.Unmarshal(d.Payload, &ev); err != nil || ev.ID != d.EventID || ev.User.Version != d.Version {
						t.Errorf("payload %s: %+v %v", d.Payload, ev, err)
					}
				}
				if err := s.MarkDelivered(ctx, "A", ids, t0); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "next version once the previous is delivered", at: t0, want: []string{"u:2"}, do: func(t *testing.T, got []store.Delivery) {
				retry := []store.Retry{{EventID: got[0].EventID, At: t0.Add(10 * time.Second)}}
				if err := s.MarkFailed(ctx, "A", retry, "HTTP 500"); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "failed delivery waits for its retry time", at: t0.Add(5 * time.Second), want: nil},
			{name: "failed delivery is offered again, blocking later versions", at: t0.Add(11 * time.Second), want: []string{"u:2"}, do: func(t *testing.T, got []store.Delivery) {
				if got[0].Attempts != 1 {
					t.Errorf("attempts = %d, want 1", got[0].Attempts)
				}
				if err := s.MarkDelivered(ctx, "A", []string{got[0].EventID}, t0); err != nil {
					t.Fatal(err)
				}
			}},
			{name: "last version", at: t0.Add(11 * time.Second), want: []string{"u:3"}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				got := claim(t, s, "A", st.at, 10)
				if g, w := versions(got, names), st.want; len(g) != len(w) || len(got) != len(w) {
					t.Fatalf("claimed %v, want %v", g, w)
				}
				for _, k := range st.want {
					if !versions(got, names)[k] {
						t.Fatalf("claimed %v, want %v", versions(got, names), st.want)
					}
				}
				if st.do != nil {
					st.do(t, got)
				}
			})
		}
		// Target B is independent of A: its first version is still pending and is the only one offered.
		if got := versions(claim(t, s, "B", t0, 10), names); len(got) != 1 || !got["u:1"] {
			t.Errorf("target B claimed %v, want u:1", got)
		}
	})
}

func TestClaimLeaseExpires(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		outboxUser(t, s, t0, "A")
		first := claim(t, s, "A", t0, 10)
		if len(first) != 1 {
			t.Fatalf("first claim: %d deliveries, want 1", len(first))
		}
		if got := claim(t, s, "A", t0.Add(lease-time.Second), 10); len(got) != 0 {
			t.Errorf("claimed %d deliveries while leased, want 0", len(got))
		}
		again := claim(t, s, "A", t0.Add(lease+time.Second), 10)
		if len(again) != 1 || again[0].EventID != first[0].EventID || again[0].Attempts != 0 {
			t.Errorf("after lease: %+v, want the same delivery, 0 attempts", again)
		}
		if err := s.ReleaseDeliveries(context.Background(), "A", []string{first[0].EventID}, t0.Add(lease+time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := claim(t, s, "A", t0.Add(lease+time.Second), 10); len(got) != 1 {
			t.Errorf("after release: %d deliveries, want 1", len(got))
		}
	})
}

// eachPools runs fn with two separate pools on one fresh database, like two replicas.
func eachPools(t *testing.T, fn func(t *testing.T, a, b *db.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		u := testdb.SQLiteURL(t)
		fn(t, testdb.Open(t, u, db.AuthSchema), testdb.Open(t, u, db.AuthSchema))
	})
	t.Run("postgres", func(t *testing.T) {
		u := testdb.PostgresURL(t)
		fn(t, testdb.Open(t, u, db.AuthSchema), testdb.Open(t, u, db.AuthSchema))
	})
}

// TestConcurrentClaimersNeverShare has four claimers on two pools drain the outbox, marking
// each claim delivered at once: no delivery is handed to two of them while leased, and no
// user's version N+1 is handed out before version N was acknowledged.
func TestConcurrentClaimersNeverShare(t *testing.T) {
	eachPools(t, func(t *testing.T, a, b *db.DB) {
		sa, sb := store.New(a), store.New(b)
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		const users, perUser = 40, 3
		for range users {
			u := outboxUser(t, sa, t0, "A")
			for range perUser - 1 {
				bump(t, sa, u.ID, t0, "A")
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}    // event id -> times claimed
		acked := map[string]int64{} // user id -> highest version acknowledged
		var violations []string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for i, s := range []*store.Store{sa, sb, sa, sb} {
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					done := len(seen) == users*perUser
					mu.Unlock()
					if done {
						return
					}
					ds, err := s.ClaimDeliveries(ctx, "A", t0, lease, 5)
					if err != nil {
						t.Errorf("claimer %d: %v", i, err)
						return
					}
					mu.Lock()
					for _, d := range ds {
						seen[d.EventID]++
						if acked[d.UserID] != d.Version-1 {
							violations = append(violations, fmt.Sprintf("version %d of %s claimed after %d", d.Version, d.UserID, acked[d.UserID]))
						}
						acked[d.UserID] = d.Version // recorded before the commit below, so a later claim sees it
					}
					mu.Unlock()
					if err := s.MarkDelivered(ctx, "A", ids(ds), t0); err != nil {
						t.Errorf("claimer %d: %v", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("outbox not drained in time: %d of %d claimed", len(seen), users*perUser)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s claimed %d times", id, n)
			}
		}
		for _, v := range violations {
			t.Error(v)
		}
	})
}

func ids(ds []store.Delivery) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.EventID)
	}
	return out
}

func TestOutboxStatus(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		if st, err := s.OutboxStatus(ctx); err != nil || len(st) != 0 {
			t.Fatalf("empty outbox: %+v %v", st, err)
		}
		old := outboxUser(t, s, t0, "A", "B")
		outboxUser(t, s, t0.Add(time.Second), "A")
		got := claim(t, s, "A", t0, 1)
		if len(got) != 1 || got[0].UserID != old.ID {
			t.Fatalf("claim: %+v", got)
		}
		if err := s.MarkFailed(ctx, "A", []store.Retry{{EventID: got[0].EventID, At: t0.Add(time.Hour)}}, "HTTP 503: down"); err != nil {
			t.Fatal(err)
		}
		st, err := s.OutboxStatus(ctx)
		if err != nil || len(st) != 2 {
			t.Fatalf("status: %+v %v", st, err)
		}
		a, b := st[0], st[1]
		if a.Target != "A" || a.Pending != 2 || a.OldestUserID != old.ID || a.OldestAttempts != 1 ||
			a.OldestLastError != "HTTP 503: down" || !a.OldestCreatedAt.Equal(t0) || !a.OldestNextAttempt.Equal(t0.Add(time.Hour)) {
			t.Errorf("target A: %+v", a)
		}
		if b.Target != "B" || b.Pending != 1 || b.OldestAttempts != 0 || b.OldestLastError != "" {
			t.Errorf("target B: %+v", b)
		}
		for _, target := range []string{"A", "B"} {
			for {
				ds := claim(t, s, target, t0.Add(2*time.Hour), 10)
				if len(ds) == 0 {
					break
				}
				if err := s.MarkDelivered(ctx, target, ids(ds), t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if st, err := s.OutboxStatus(ctx); err != nil || len(st) != 0 {
			t.Errorf("all delivered: %+v %v", st, err)
		}
	})
}

// withoutID renders a delivery and its payload without the event id.
func withoutID(t testing.TB, dl store.Delivery) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(dl.Payload, &ev); err != nil || ev["id"] != dl.EventID {
		t.Fatalf("payload %s: %v", dl.Payload, err)
	}
	delete(ev, "id")
	payload, _ := json.Marshal(ev)
	return fmt.Sprintf("%s v%d attempts %d %s", dl.UserID, dl.Version, dl.Attempts, payload)
}

func TestPurgeDelivered(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		for range 5 {
			outboxUser(t, s, t0, "A")
		}
		outboxUser(t, s, t0) // an event without deliveries
		ds := claim(t, s, "A", t0, 3)
		if err := s.MarkDelivered(ctx, "A", ids(ds), t0); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeDelivered(ctx, t0, 100); err != nil || n != 0 {
			t.Errorf("purge before cutoff: %d, %v; want 0", n, err)
		}
		total := 0
		for {
			n, err := s.PurgeDelivered(ctx, t0.Add(time.Millisecond), 2)
			if err != nil {
				t.Fatal(err)
			}
			total += n
			if n < 2 {
				break
			}
		}
		var events, deliveries int
		_ = d.Get(&events, `SELECT count(*) FROM outbox_events`)
		_ = d.Get(&deliveries, `SELECT count(*) FROM outbox_deliveries`)
		if total != 7 || events != 2 || deliveries != 2 {
			t.Errorf("purged %d rows, left %d events and %d deliveries; want 7 purged, 2 and 2 left", total, events, deliveries)
		}
	})
}

// importUsers creates n users through an import, which queues their events for targets in
// bulk, as a backlog grows fastest in production; it returns their ids.
func importUsers(t testing.TB, s *store.Store, n int, at time.Time, targets ...string) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for from := 0; from < n; from += 500 {
		var users []store.User
		for i := from; i < min(from+500, n); i++ {
			name := fmt.Sprintf("bulk%05d", i)
			u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "h",
				Version: 1, CreatedAt: at, UpdatedAt: at}
			users = append(users, u)
			ids = append(ids, u.ID)
		}
		if _, err := s.ImportUsers(context.Background(), users, targets, at, false); err != nil {
			t.Fatalf("import users: %v", err)
		}
	}
	return ids
}

// TestClaimLargeBacklog imports thousands of users, gives every twentieth a second version
// queued behind the first, and drains the backlog in claims of 100, acknowledging each: every
// delivery is claimed exactly once and each user's versions in order, never two of one user
// in a claim. On PostgreSQL the statistics are taken before the import, as after a bulk
// enqueue in production, when they say that nothing is pending: a claim once read every
// pending row per candidate then, and this drain would not end within its deadline. SQLite
// (a pure-Go driver, slow under -race) gets a smaller backlog; its planner has no statistics.
func TestClaimLargeBacklog(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		users, batch := 1000, 100
		if d.PlansWithStatistics() {
			users = 5000
		}
		s := store.New(d)
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		if err := d.Analyze(context.Background()); err != nil {
			t.Fatal(err)
		}
		userIDs := importUsers(t, s, users, t0, "A")
		want := map[string]int64{} // user id -> last version
		for i, id := range userIDs {
			want[id] = 1
			if i%20 == 0 {
				bump(t, s, id, t0, "A")
				want[id] = 2
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		seen := map[string]bool{}   // event ids claimed
		acked := map[string]int64{} // user id -> highest version acknowledged
		for ctx.Err() == nil {
			ds, err := s.ClaimDeliveries(ctx, "A", t0, lease, batch)
			if err != nil {
				t.Fatalf("claim after %d deliveries: %v", len(seen), err)
			}
			if len(ds) == 0 {
				break
			}
			inClaim := map[string]bool{}
			for _, dl := range ds {
				if seen[dl.EventID] || inClaim[dl.UserID] || acked[dl.UserID] != dl.Version-1 {
					t.Fatalf("claimed %s (user %s version %d): seen %v, user already in this claim %v, acknowledged up to %d",
						dl.EventID, dl.UserID, dl.Version, seen[dl.EventID], inClaim[dl.UserID], acked[dl.UserID])
				}
				seen[dl.EventID], inClaim[dl.UserID], acked[dl.UserID] = true, true, dl.Version
			}
			if err := s.MarkDelivered(ctx, "A", ids(ds), t0); err != nil {
				t.Fatal(err)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("backlog not drained in time: %d deliveries claimed", len(seen))
		}
		if got, wantN := len(seen), users+users/20; got != wantN {
			t.Errorf("claimed %d deliveries, want %d", got, wantN)
		}
		if fmt.Sprint(acked) != fmt.Sprint(want) {
			t.Errorf("acknowledged versions differ from the users' last versions")
		}
		if st, err := s.OutboxStatus(ctx); err != nil || len(st) != 0 {
			t.Errorf("after the drain: %+v %v", st, err)
		}
	})
}
