package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestReplayWalksEveryUser starts a replay of seven users to two targets and walks target A's
// in pages of three: the pages hold every user once, in id order, at its current version, as
// upserts; the last advance ends A's replay and leaves B's.
func TestReplayWalksEveryUser(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		want := map[string]int64{}
		for i := range 7 {
			u := outboxUser(t, s, t0) // no targets: nothing pending
			want[u.ID] = 1
			if i%2 == 0 {
				bump(t, s, u.ID, t0)
				want[u.ID] = 2
			}
		}
		if n, err := s.StartReplay(ctx, []string{"A", "B"}, t0); err != nil || n != 7 {
			t.Fatalf("StartReplay = %d, %v; want 7", n, err)
		}
		if st, err := s.OutboxStatus(ctx); err != nil || len(st) != 0 {
			t.Errorf("a replay queued deliveries: %+v, %v", st, err)
		}
		r, ok, err := s.ClaimReplay(ctx, "A", "one", t0, lease)
		if err != nil || !ok || r.AfterID != "" || r.Sent != 0 || r.Total != 7 || !r.StartedAt.Equal(t0) {
			t.Fatalf("ClaimReplay = %+v, %v, %v", r, ok, err)
		}
		got := map[string]int64{}
		var order []string
		for page := 1; ; page++ {
			ds, err := s.ReplayPage(ctx, r.AfterID, 3, t0)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range ds {
				var ev syncevent.Event
				if err := json.Unmarshal(dl.Payload, &ev); err != nil || ev.Type != syncevent.TypeUpsert || ev.ID != dl.EventID ||
					ev.User.ID != dl.UserID || ev.User.Version != dl.Version {
					t.Errorf("page %d: delivery %+v with payload %s (%v)", page, dl, dl.Payload, err)
				}
				got[ev.User.ID] = ev.User.Version
				order = append(order, dl.UserID)
			}
			done := len(ds) < 3
			after := r.AfterID
			if len(ds) > 0 {
				after = ds[len(ds)-1].UserID
			}
			if held, err := s.AdvanceReplay(ctx, r, "one", after, len(ds), done, t0, lease); err != nil || !held {
				t.Fatalf("page %d: AdvanceReplay = %v, %v", page, held, err)
			}
			if done {
				break
			}
			if r, ok, err = s.ClaimReplay(ctx, "A", "one", t0, lease); err != nil || !ok || r.Sent != 3*page || r.AfterID != after {
				t.Fatalf("page %d: the holder renews its lease: %+v, %v, %v", page, r, ok, err)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(order) != 7 || !slices.IsSorted(order) {
			t.Errorf("replayed %v in order %v, want %v in id order", got, order, want)
		}
		rs, err := s.Replays(ctx)
		if err != nil || len(rs) != 1 || rs[0].Target != "B" || rs[0].Total != 7 {
			t.Errorf("replays after A's end: %+v, %v; want B's only", rs, err)
		}
		if _, ok, err := s.ClaimReplay(ctx, "A", "one", t0, lease); ok || err != nil {
			t.Errorf("ClaimReplay of a finished replay = %v, %v", ok, err)
		}
	})
}

// TestReplayLease holds a replay to one holder at a time: another replica takes it only once
// the lease ends (or is released), the old holder's advance then changes nothing, a failed
// call keeps everyone (its holder too) away until its backoff ends, and a new `sync replay`
// starts over.
func TestReplayLease(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		outboxUser(t, s, t0)
		u2 := outboxUser(t, s, t0)
		if _, err := s.StartReplay(ctx, []string{"A"}, t0); err != nil {
			t.Fatal(err)
		}
		claimAs := func(owner string, at time.Time) (store.Replay, bool) {
			t.Helper()
			r, ok, err := s.ClaimReplay(ctx, "A", owner, at, lease)
			if err != nil {
				t.Fatal(err)
			}
			return r, ok
		}
		one, ok := claimAs("one", t0)
		if !ok {
			t.Fatal("first claim refused")
		}
		if _, ok := claimAs("two", t0.Add(lease-time.Millisecond)); ok {
			t.Fatal("a second replica took a leased replay")
		}
		two, ok := claimAs("two", t0.Add(lease))
		if !ok || two.LeaseOwner != "two" {
			t.Fatalf("the lease ended but the other replica could not take it: %+v", two)
		}
		if held, err := s.AdvanceReplay(ctx, one, "one", u2.ID, 1, false, t0, lease); err != nil || held {
			t.Fatalf("the old holder advanced a replay taken over: %v, %v", held, err)
		}

		retryAt := t0.Add(lease + 5*time.Second)
		if err := s.ReplayFailed(ctx, two, "two", "target answered 503", retryAt); err != nil {
			t.Fatal(err)
		}
		if _, ok := claimAs("two", retryAt.Add(-time.Millisecond)); ok {
			t.Fatal("the holder called again during its backoff")
		}
		two, ok = claimAs("two", retryAt)
		if !ok || two.Attempts != 1 || two.LastError != "target answered 503" || two.AfterID != "" {
			t.Fatalf("after the backoff: %+v, %v", two, ok)
		}
		if err := s.ReleaseReplay(ctx, two, "two", retryAt); err != nil {
			t.Fatal(err)
		}
		three, ok := claimAs("three", retryAt)
		if !ok {
			t.Fatal("a released replay was not free at once")
		}

		if _, err := s.StartReplay(ctx, []string{"A"}, retryAt); err != nil {
			t.Fatal(err)
		}
		if held, err := s.AdvanceReplay(ctx, three, "three", u2.ID, 1, true, retryAt, lease); err != nil || held {
			t.Fatalf("the holder of a restarted replay advanced it: %v, %v", held, err)
		}
		again, ok := claimAs("four", retryAt)
		if !ok || again.ID == three.ID || again.AfterID != "" || again.Sent != 0 || again.Attempts != 0 || again.Total != 2 {
			t.Fatalf("the restarted replay: %+v, %v; want a fresh one, free at once", again, ok)
		}
	})
}

// TestReplayEventMatchesChange holds a replayed event to the one a change writes: a user's
// replayed event is its creation's event but for the id.
func TestReplayEventMatchesChange(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		outboxUser(t, s, t0, "A")
		created := claim(t, s, "A", t0, 10)
		replayed, err := s.ReplayPage(ctx, "", 10, t0)
		if err != nil || len(created) != 1 || len(replayed) != 1 {
			t.Fatalf("claimed %d deliveries and replayed %d (%v), want 1 and 1", len(created), len(replayed), err)
		}
		created[0].Attempts = replayed[0].Attempts
		if got, want := withoutID(t, replayed[0]), withoutID(t, created[0]); got != want {
			t.Errorf("replayed delivery %s, want %s", got, want)
		}
	})
}
