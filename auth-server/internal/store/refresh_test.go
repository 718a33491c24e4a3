package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// sessFixture is a store with one user, and helpers to start sessions at a fixed time.
type sessFixture struct {
	t    *testing.T
	s    *store.Store
	user store.User
	now  time.Time
}

func newSessFixture(t *testing.T, d *db.DB) *sessFixture {
	t.Helper()
	f := &sessFixture{t: t, s: store.New(d), now: time.UnixMilli(time.Now().UnixMilli()).UTC()}
	f.user = f.newUser()
	return f
}

func (f *sessFixture) newUser() store.User {
	f.t.Helper()
	name := testdb.Name("u")
	u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "hash-" + name,
		Version: 1, CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.s.CreateUser(context.Background(), u, nil); err != nil {
		f.t.Fatalf("create user: %v", err)
	}
	return u
}

// session starts a session of u with first token hash h, expiring at exp, its token at idle.
func (f *sessFixture) session(u store.User, h string, idle, exp time.Time) store.Session {
	f.t.Helper()
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: f.now, LastUsedAt: f.now, ExpiresAt: exp,
		UserAgent: "test-agent", IP: "192.0.2.1"}
	if err := f.s.CreateSession(context.Background(), sess, h, idle,
		store.AuditEvent{At: f.now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID}); err != nil {
		f.t.Fatalf("create session: %v", err)
	}
	return sess
}

func (f *sessFixture) lookup(h string) store.RefreshState {
	f.t.Helper()
	st, err := f.s.LookupRefresh(context.Background(), h)
	if err != nil {
		f.t.Fatalf("lookup %s: %v", h, err)
	}
	return st
}

func rotateStep(child string, exp time.Time) func(store.RefreshState) (store.RefreshStep, error) {
	return func(store.RefreshState) (store.RefreshStep, error) {
		return store.RefreshStep{Action: refresh.Rotate, ChildHash: child, ChildExpires: exp, ChildSealed: "sealed-" + child}, nil
	}
}

func TestRefreshSteps(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		sess := f.session(f.user, "h0", f.now.Add(time.Hour), f.now.Add(24*time.Hour))
		later := f.now.Add(time.Minute)

		st, err := f.s.Refresh(ctx, "h0", later, rotateStep("h1", later.Add(time.Hour)))
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if st.Session.ID != sess.ID || st.Session.UserID != f.user.ID || !st.Token.SpentAt.IsZero() {
			t.Errorf("rotate saw %+v, want the unspent token of session %s", st, sess.ID)
		}
		if st.User.ID != f.user.ID || st.User.Username != f.user.Username || st.User.Email != f.user.Email {
			t.Errorf("rotate saw user %+v, want %+v", st.User, f.user)
		}
		parent := f.lookup("h0")
		if !parent.Token.SpentAt.Equal(later) || parent.Token.ChildSealed != "sealed-h1" || parent.ChildSpent {
			t.Errorf("parent after rotate = %+v", parent.Token)
		}
		child := f.lookup("h1")
		if child.Token.ParentHash != "h0" || child.Token.SessionID != sess.ID || !child.Token.ExpiresAt.Equal(later.Add(time.Hour)) {
			t.Errorf("child = %+v", child.Token)
		}
		if !child.Session.LastUsedAt.Equal(later) || !child.Session.IdleExpiresAt.Equal(later.Add(time.Hour)) {
			t.Errorf("session not touched: %+v", child.Session)
		}

		// Replay changes nothing; the child's spending shows on the parent.
		if _, err := f.s.Refresh(ctx, "h0", later, func(store.RefreshState) (store.RefreshStep, error) {
			return store.RefreshStep{Action: refresh.Replay}, nil
		}); err != nil {
			t.Fatalf("replay: %v", err)
		}
		if _, err := f.s.Refresh(ctx, "h1", later, rotateStep("h2", later.Add(time.Hour))); err != nil {
			t.Fatalf("rotate child: %v", err)
		}
		if !f.lookup("h0").ChildSpent {
			t.Error("ChildSpent = false after the child was spent")
		}

		// Revoke commits although the caller then fails the request.
		audit := store.AuditEvent{At: later, Event: store.AuditRefreshReuse, UserID: f.user.ID, SessionID: sess.ID}
		if _, err := f.s.Refresh(ctx, "h0", later, func(store.RefreshState) (store.RefreshStep, error) {
			return store.RefreshStep{Action: refresh.Reuse, Reason: store.RevokeReuse, Audit: audit}, nil
		}); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if s := f.lookup("h2").Session; !s.RevokedAt.Equal(later) || s.RevokeReason != store.RevokeReuse {
			t.Errorf("session after revoke = %+v", s)
		}
		if !hasAuditEvent(t, f.s, f.user.ID, store.AuditRefreshReuse, sess.ID) {
			t.Error("no refresh.reuse audit event")
		}
	})
}

func hasAuditEvent(t *testing.T, s *store.Store, userID, event, sid string) bool {
	t.Helper()
	evs, err := s.AuditEvents(context.Background(), userID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Event == event && (sid == "" || e.SessionID == sid) {
			return true
		}
	}
	return false
}

func TestRefreshFailuresChangeNothing(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		sess := f.session(f.user, "a0", f.now.Add(time.Hour), f.now.Add(24*time.Hour))
		f.session(f.user, "b0", f.now.Add(time.Hour), f.now.Add(24*time.Hour))

		called := false
		_, err := f.s.Refresh(ctx, "nope", f.now, func(store.RefreshState) (store.RefreshStep, error) {
			called = true
			return store.RefreshStep{}, nil
		})
		if !errors.Is(err, store.ErrNotFound) || called {
			t.Errorf("unknown token: err %v, decide called %v; want ErrNotFound without decide", err, called)
		}
		boom := errors.New("boom")
		if _, err := f.s.Refresh(ctx, "a0", f.now, func(store.RefreshState) (store.RefreshStep, error) { return store.RefreshStep{}, boom }); !errors.Is(err, boom) {
			t.Errorf("decide error: %v, want boom", err)
		}
		// A child hash that already exists fails the insert: the spending is rolled back.
		if _, err := f.s.Refresh(ctx, "a0", f.now, rotateStep("b0", f.now.Add(time.Hour))); err == nil {
			t.Error("rotation onto an existing hash succeeded")
		}
		if st := f.lookup("a0"); !st.Token.SpentAt.IsZero() || st.Token.ChildSealed != "" {
			t.Errorf("failed rotation left %+v", st.Token)
		}
		// A rotation of a session revoked before it gets ErrSessionEnded and spends nothing.
		if err := f.s.RevokeSession(ctx, f.user.ID, sess.ID, f.now, store.RevokeLogout, store.AuditEvent{At: f.now, Event: store.AuditLogout}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Refresh(ctx, "a0", f.now, rotateStep("a1", f.now.Add(time.Hour))); !errors.Is(err, store.ErrSessionEnded) {
			t.Errorf("rotate in revoked session: %v, want ErrSessionEnded", err)
		}
		if st := f.lookup("a0"); !st.Token.SpentAt.IsZero() {
			t.Error("token spent by a failed rotation")
		}
	})
}

// twoPools runs fn with two connection pools on one fresh database (SQLite, and PostgreSQL
// when TEST_DATABASE_URL is set), like two replicas.
func twoPools(t *testing.T, fn func(t *testing.T, a, b *db.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		u := testdb.SQLiteURL(t)
		fn(t, testdb.Open(t, u, db.AuthSchema), testdb.Open(t, u, db.AuthSchema))
	})
	t.Run("postgres", func(t *testing.T) {
		u := testdb.PostgresURL(t)
		fn(t, testdb.Open(t, u, db.AuthSchema), testdb.Open(t, u, db.AuthSchema))
	})
}

// TestRefreshConcurrent: many refreshes of one token at once, on two pools, rotate it exactly
// once; every other one sees it spent with the same child.
func TestRefreshConcurrent(t *testing.T) {
	twoPools(t, func(t *testing.T, d, d2 *db.DB) {
		f := newSessFixture(t, d)
		stores := []*store.Store{f.s, store.New(d2)}
		sess := f.session(f.user, "c0", f.now.Add(time.Hour), f.now.Add(24*time.Hour))
		const n = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		rotations, children := 0, map[string]int{}
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var act refresh.Outcome
				st, err := stores[i%2].Refresh(context.Background(), "c0", f.now, func(st store.RefreshState) (store.RefreshStep, error) {
					if st.Token.SpentAt.IsZero() {
						act = refresh.Rotate
						return store.RefreshStep{Action: act, ChildHash: fmt.Sprintf("c1-%d", i), ChildExpires: f.now.Add(time.Hour), ChildSealed: fmt.Sprintf("sealed-%d", i)}, nil
					}
					act = refresh.Replay
					return store.RefreshStep{Action: act}, nil
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if act == refresh.Rotate {
					rotations++
				} else {
					children[st.Token.ChildSealed]++
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("refresh: %v", err)
		}
		if rotations != 1 || len(children) != 1 {
			t.Errorf("rotations = %d, distinct children seen by replays = %d (%v); want 1 and 1", rotations, len(children), children)
		}
		var unspent int
		if err := d.Get(&unspent, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND spent_at = 0`), sess.ID); err != nil {
			t.Fatal(err)
		}
		if unspent != 1 {
			t.Errorf("unspent tokens = %d, want 1", unspent)
		}
	})
}

// TestRefreshLostRace: a rotation decided on a state that changes before it is written (the
// token spent, or its session revoked, by someone else in between) writes nothing of its
// own; Refresh decides again on the new state and applies that decision instead.
func TestRefreshLostRace(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		later := f.now.Add(time.Minute)
		for _, tc := range []struct {
			name   string
			meddle func(t *testing.T, sess store.Session, hash string)
			want   refresh.Outcome
		}{
			{"spent meanwhile", func(t *testing.T, _ store.Session, hash string) {
				if _, err := f.s.Refresh(ctx, hash, later, rotateStep(hash+"-theirs", later.Add(time.Hour))); err != nil {
					t.Fatalf("concurrent rotation: %v", err)
				}
			}, refresh.Replay},
			{"revoked meanwhile", func(t *testing.T, sess store.Session, _ string) {
				if err := f.s.RevokeSession(ctx, f.user.ID, sess.ID, later, store.RevokeLogout, store.AuditEvent{At: later, Event: store.AuditLogout}); err != nil {
					t.Fatalf("concurrent logout: %v", err)
				}
			}, refresh.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hash := testdb.Name("race")
				sess := f.session(f.user, hash, f.now.Add(time.Hour), f.now.Add(24*time.Hour))
				var seen []store.RefreshState
				var last refresh.Outcome
				st, err := f.s.Refresh(ctx, hash, later, func(st store.RefreshState) (store.RefreshStep, error) {
					seen = append(seen, st)
					if len(seen) == 1 {
						tc.meddle(t, sess, hash)
					}
					switch {
					case !st.Session.RevokedAt.IsZero():
						last = refresh.Invalid
					case st.Token.SpentAt.IsZero():
						last = refresh.Rotate
					default:
						last = refresh.Replay
					}
					return store.RefreshStep{Action: last, ChildHash: hash + "-mine", ChildExpires: later.Add(time.Hour), ChildSealed: "sealed-mine"}, nil
				})
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				if len(seen) != 2 || !seen[0].Token.SpentAt.IsZero() || !seen[0].Session.RevokedAt.IsZero() || last != tc.want {
					t.Fatalf("decide ran %d times, last %v; want twice (on the state read, then on the changed one), last %v", len(seen), last, tc.want)
				}
				if st.Token.SpentAt != seen[1].Token.SpentAt || st.Session.RevokedAt != seen[1].Session.RevokedAt {
					t.Errorf("Refresh returned %+v, want the state of the second decision %+v", st, seen[1])
				}
				if _, err := f.s.LookupRefresh(ctx, hash+"-mine"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the lost rotation's child: %v, want ErrNotFound", err)
				}
				if got := f.lookup(hash).Token.ChildSealed; got == "sealed-mine" {
					t.Error("the lost rotation's sealed child was stored")
				}
			})
		}
	})
}
