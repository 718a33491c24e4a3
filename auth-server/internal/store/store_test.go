package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
)

// This file is the store's conformance suite: every test runs on SQLite and PostgreSQL.

func newUser(name string) store.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.User{ID: uuid.NewString(), Username: name, Email: strings.ToLower(name) + "@example.com",
		PasswordHash: "h", Version: 1, CreatedAt: now, UpdatedAt: now, Roles: []string{}}
}

func TestUsersRoundTrip(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		u := newUser("alice")
		if err := s.CreateUser(ctx, u, []string{"http://a", "http://b"}); err != nil {
			t.Fatal(err)
		}
		for _, login := range []string{"alice", "ALICE", "Alice@Example.com"} {
			got, err := s.UserByLogin(ctx, login)
			if err != nil || !reflect.DeepEqual(got, u) {
				t.Errorf("UserByLogin(%q) = %+v, %v; want %+v", login, got, err, u)
			}
		}
		if _, err := s.UserByLogin(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		updated := store.AuditEvent{At: time.Now(), Event: store.AuditUserUpdated, UserID: u.ID}
		got, err := s.UpdateUser(ctx, u.ID, time.Now(), []string{"http://a"}, func(x *store.User) error { x.Email = "new@example.com"; return nil }, updated)
		if err != nil || got.Version != 2 || got.Email != "new@example.com" {
			t.Fatalf("update: %+v %v", got, err)
		}
		boom := errors.New("boom")
		if _, err := s.UpdateUser(ctx, u.ID, time.Now(), nil, func(*store.User) error { return boom }, updated); !errors.Is(err, boom) {
			t.Errorf("aborted update: %v", err)
		}
		if err := s.DeleteUser(ctx, u.ID, time.Now(), []string{"http://a"}, store.AuditEvent{At: time.Now(), Event: store.AuditUserDeleted, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		// The audit trail holds the update and the deletion, written with them; the aborted
		// update wrote none.
		trail, err := s.AuditEvents(ctx, u.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range trail {
			names = append(names, e.Event)
		}
		if want := []string{store.AuditUserDeleted, store.AuditUserUpdated}; !slices.Equal(names, want) {
			t.Errorf("audit trail = %v, want %v", names, want)
		}
		if _, err := s.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		// create (2 targets) + update (1) + delete (1): the outbox holds every change.
		var events, deliveries int
		_ = d.Get(&events, `SELECT count(*) FROM outbox_events`)
		_ = d.Get(&deliveries, `SELECT count(*) FROM outbox_deliveries`)
		if events != 3 || deliveries != 4 {
			t.Errorf("outbox: %d events, %d deliveries; want 3, 4", events, deliveries)
		}
	})
}

// Two signups racing for one username in different case: exactly one wins, by the unique
// index (there is no check-then-insert to race past).
func TestSignupRaceOneWins(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		for round := 0; round < 5; round++ {
			names := []string{fmt.Sprintf("racer%d", round), fmt.Sprintf("RACER%d", round), fmt.Sprintf("Racer%d", round), fmt.Sprintf("rAcEr%d", round)}
			var wg sync.WaitGroup
			errs := make([]error, len(names))
			for i, n := range names {
				wg.Add(1)
				go func() {
					defer wg.Done()
					u := newUser(n)
					u.Email = fmt.Sprintf("%d-%d@example.com", round, i)
					errs[i] = s.CreateUser(context.Background(), u, []string{"http://t"})
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, store.ErrUserExists):
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d winners", round, wins)
			}
		}
		var events int
		_ = d.Get(&events, `SELECT count(*) FROM outbox_events`)
		if events != 5 {
			t.Errorf("losers left outbox events: %d, want 5", events)
		}
	})
}

// Concurrent failures on one counter are all counted (the row is locked, not read-modify-write).
func TestThrottleCountsEveryConcurrentFailure(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		rule := throttle.Rule{Threshold: 1000, Window: time.Hour, BaseDelay: time.Second, MaxDelay: time.Minute}
		now := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fail := func(_ string, c throttle.Counter) throttle.Counter { return rule.Fail(c, now) }
				if err := s.RecordFailure(ctx, fail, store.AuditEvent{At: now, Event: store.AuditLoginFailure}, "account:x", "address:y"); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, k := range []string{"account:x", "address:y"} {
			c, err := s.ThrottleCounter(ctx, k)
			if err != nil || c.Failures != 20 {
				t.Errorf("%s: %+v %v", k, c, err)
			}
		}
		if err := s.ClearThrottle(ctx, "account:x"); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.ThrottleCounter(ctx, "account:x"); c.Failures != 0 {
			t.Errorf("cleared counter = %+v", c)
		}
		if _, err := s.PruneThrottle(ctx, now.Add(-30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.ThrottleCounter(ctx, "address:y"); c.Failures != 20 {
			t.Errorf("pruned a counter inside its window: %+v", c)
		}
		if _, err := s.PruneThrottle(ctx, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.ThrottleCounter(ctx, "address:y"); c.Failures != 0 {
			t.Errorf("expired counter not pruned: %+v", c)
		}
	})
}

// UpdateKeys is a compare-and-swap: concurrent updates serialise, none is lost.
func TestUpdateKeysSerialises(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		sealer, err := keys.NewSealer(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
					k, err := keys.Generate("ES256", time.Now(), sealer)
					if err != nil {
						return nil, err
					}
					k.State = keys.StateRetired
					return append(old, k), nil
				}, func() store.AuditEvent { return store.AuditEvent{At: time.Now(), Event: store.AuditKeyRotated} })
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		ks, v, err := s.Keys(ctx)
		if err != nil || len(ks) != 8 || v != 8 {
			t.Fatalf("keys = %d, version = %d, %v; want 8, 8", len(ks), v, err)
		}
		if _, err := sealer.SigningKey(ks[0]); err != nil {
			t.Errorf("sealed key does not survive the round trip: %v", err)
		}
		sentinel := errors.New("no change")
		if trail, _ := s.AuditPage(ctx, store.AuditQuery{Type: store.AuditKeyRotated, Limit: 20}); len(trail) != 8 {
			t.Errorf("%d audit events for 8 key changes, want one each", len(trail))
		}
		if _, err := s.UpdateKeys(ctx, func([]keys.Key) ([]keys.Key, error) { return nil, sentinel }, nil); !errors.Is(err, sentinel) {
			t.Errorf("aborted update: %v", err)
		}
		if v2, _ := s.KeySetVersion(ctx); v2 != 8 {
			t.Errorf("aborted update bumped the version to %d", v2)
		}
	})
}

// A key change commits with its audit event or not at all.
func TestKeyChangeCommitsWithItsAudit(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		sealer, err := keys.NewSealer(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		add := func(old []keys.Key) ([]keys.Key, error) {
			k, err := keys.Generate("ES256", time.Now(), sealer)
			return append(old, k), err
		}
		if _, err := d.ExecContext(ctx, `ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateKeys(ctx, add, func() store.AuditEvent { return store.AuditEvent{At: time.Now(), Event: store.AuditKeyRotated} }); err == nil {
			t.Fatal("a key change whose audit event cannot be written committed")
		}
		if v, err := s.KeySetVersion(ctx); err != nil || v != 0 {
			t.Errorf("version %d (%v) after the failed change, want 0", v, err)
		}
	})
}
