package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Paging through users while others sign up skips and repeats no user that existed before.
func TestFindUsersPagesUnderInserts(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		var before []string
		for i := 0; i < 60; i++ {
			u := newUser(fmt.Sprintf("user%03d", i))
			if err := s.CreateUser(ctx, u, nil); err != nil {
				t.Fatal(err)
			}
			before = append(before, u.Username)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // concurrent sign-ups, before, between and after the existing names
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				for _, p := range []string{"a", "user05", "zz"} {
					_ = s.CreateUser(ctx, newUser(fmt.Sprintf("%s%s%d", p, "new", i)), nil)
				}
			}
		}()
		seen := map[string]int{}
		after := ""
		for {
			page, err := s.FindUsers(ctx, store.UserQuery{After: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page {
				seen[u.Username]++
			}
			if len(page) < 7 {
				break
			}
			after = page[len(page)-1].Username
		}
		close(stop)
		wg.Wait()
		for _, name := range before {
			if seen[name] != 1 {
				t.Errorf("%s seen %d times, want once", name, seen[name])
			}
		}
		for name, n := range seen {
			if n != 1 {
				t.Errorf("%s repeated %d times", name, n)
			}
		}
	})
}

func TestFindUsersByPrefix(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		for _, n := range []string{"alice", "alfred", "bob", "al_x", "alpha"} {
			u := newUser(n)
			if n == "bob" {
				u.Email = "alias@example.com" // matches by email
			}
			if err := s.CreateUser(ctx, u, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"al", []string{"al_x", "alfred", "alice", "alpha", "bob"}},
			{"al_", []string{"al_x"}}, // _ is no wildcard
			{"al%", nil},
			{"alias@", []string{"bob"}},
			{"x", nil},
		} {
			page, err := s.FindUsers(ctx, store.UserQuery{Prefix: tc.prefix, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range page {
				got = append(got, u.Username)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("prefix %q: %v, want %v", tc.prefix, got, tc.want)
			}
		}
	})
}

func TestDisableEndsSessions(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		u := newUser("dan")
		u.Roles = []string{"admin", "ops"}
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			x := newSession(u.ID, "")
			if err := s.CreateSession(ctx, x, uuid.NewString(), x.ExpiresAt, store.AuditEvent{At: time.Now(), Event: store.AuditLoginSuccess}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		got, err := s.SetDisabled(ctx, u.ID, true, now, []string{"http://t"}, store.AuditEvent{At: now, Event: store.AuditUserDisabled, UserID: u.ID, Actor: "cli"})
		if err != nil || !got.Disabled() || got.Version != 2 || !slices.Equal(got.Roles, []string{"admin", "ops"}) {
			t.Fatalf("SetDisabled = %+v, %v", got, err)
		}
		if live, _ := s.ListSessions(ctx, u.ID, now); len(live) != 0 {
			t.Errorf("%d sessions live after disabling, want 0", len(live))
		}
		got, err = s.UserByID(ctx, u.ID)
		if err != nil || !got.Disabled() || got.LastLoginAt.IsZero() {
			t.Errorf("read back: %+v %v (want disabled, with a last log-in)", got, err)
		}
		if got, err = s.SetDisabled(ctx, u.ID, false, now, nil, store.AuditEvent{At: now, Event: store.AuditUserEnabled, UserID: u.ID}); err != nil || got.Disabled() {
			t.Errorf("enable: %+v %v", got, err)
		}
		trail, err := s.AuditPage(ctx, store.AuditQuery{UserID: u.ID, Type: store.AuditUserDisabled, Limit: 10})
		if err != nil || len(trail) != 1 || trail[0].Actor != "cli" || trail[0].ID == "" {
			t.Errorf("audit of the disabling: %+v %v", trail, err)
		}
	})
}

func TestAuditPages(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		at := time.Now().UTC().Truncate(time.Millisecond)
		for i := 0; i < 25; i++ { // several events share a millisecond: the id breaks ties
			e := store.AuditEvent{At: at.Add(time.Duration(i/3) * time.Millisecond), Event: store.AuditLoginFailure, UserID: "u"}
			if err := s.Audit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		q := store.AuditQuery{UserID: "u", Limit: 4}
		for {
			page, err := s.AuditPage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				if seen[e.ID] {
					t.Fatalf("event %s repeated", e.ID)
				}
				seen[e.ID] = true
			}
			if len(page) < q.Limit {
				break
			}
			q.AfterAt, q.AfterID = page[len(page)-1].At, page[len(page)-1].ID
		}
		if len(seen) != 25 {
			t.Errorf("paged through %d events, want 25", len(seen))
		}
	})
}
