package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func sessionIDs(ss []store.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func TestSessionsListAndRevoke(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		other := f.newUser()
		day := f.now.Add(24 * time.Hour)
		live := f.session(f.user, "l0", f.now.Add(time.Hour), day)
		idle := f.session(f.user, "i0", f.now.Add(-time.Second), day)
		ended := f.session(f.user, "e0", f.now.Add(-time.Second), f.now.Add(-time.Second))
		gone := f.session(f.user, "g0", f.now.Add(time.Hour), day)
		theirs := f.session(other, "o0", f.now.Add(time.Hour), day)
		ev := store.AuditEvent{At: f.now, Event: store.AuditSessionEnded, UserID: f.user.ID}

		if err := f.s.RevokeSession(ctx, f.user.ID, theirs.ID, f.now, store.RevokeEnded, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke another user's session: %v, want ErrNotFound", err)
		}
		if err := f.s.RevokeSession(ctx, f.user.ID, gone.ID, f.now, store.RevokeEnded, ev); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if err := f.s.RevokeSession(ctx, f.user.ID, gone.ID, f.now, store.RevokeEnded, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke twice: %v, want ErrNotFound", err)
		}
		got, err := f.s.ListSessions(ctx, f.user.ID, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != live.ID || got[0].UserAgent != "test-agent" || got[0].IP != "192.0.2.1" {
			t.Errorf("live sessions = %+v, want only %s (idle %s, ended %s, revoked %s excluded)", got, live.ID, idle.ID, ended.ID, gone.ID)
		}
		for _, tc := range []struct {
			id   string
			want bool
		}{{live.ID, true}, {idle.ID, false}, {ended.ID, false}, {gone.ID, false}, {"unknown", false}} {
			if _, ok, err := f.s.SessionUser(ctx, tc.id, f.now); err != nil || ok != tc.want {
				t.Errorf("SessionUser(%s) live = %v, %v; want %v", tc.id, ok, err, tc.want)
			}
		}
		if !hasAuditEvent(t, f.s, f.user.ID, store.AuditSessionEnded, "") {
			t.Error("no audit event for the revocation")
		}
	})
}

func TestRevokeUserSessionsAndChangePassword(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		other := f.newUser()
		day := f.now.Add(24 * time.Hour)
		a := f.session(f.user, "a0", day, day)
		f.session(f.user, "b0", day, day)
		f.session(f.user, "c0", day, day)
		theirs := f.session(other, "o0", day, day)
		ev := store.AuditEvent{At: f.now, Event: store.AuditPasswordChange, UserID: f.user.ID}

		if _, err := f.s.ChangePassword(ctx, f.user.ID, "stale-hash", "new-hash", a.ID, f.now, ev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("stale compare-and-swap: %v, want ErrNotFound", err)
		}
		if got, _ := f.s.ListSessions(ctx, f.user.ID, f.now); len(got) != 3 {
			t.Fatalf("a failed password change revoked sessions: %d left", len(got))
		}
		n, err := f.s.ChangePassword(ctx, f.user.ID, f.user.PasswordHash, "new-hash", a.ID, f.now, ev)
		if err != nil || n != 2 {
			t.Fatalf("ChangePassword = %d, %v; want 2 revoked", n, err)
		}
		u, err := f.s.UserByID(ctx, f.user.ID)
		if err != nil || u.PasswordHash != "new-hash" || u.Version != f.user.Version {
			t.Errorf("user after change = %+v, %v; want the new hash and the same version", u, err)
		}
		if got, _ := f.s.ListSessions(ctx, f.user.ID, f.now); len(got) != 1 || got[0].ID != a.ID {
			t.Errorf("sessions after change = %v, want only the kept %s", sessionIDs(got), a.ID)
		}
		if st := f.lookup("b0"); st.Session.RevokeReason != store.RevokePasswordChange {
			t.Errorf("revoke reason = %q", st.Session.RevokeReason)
		}
		n, err = f.s.RevokeUserSessions(ctx, f.user.ID, "", f.now, store.RevokeLogoutAll, store.AuditEvent{At: f.now, Event: store.AuditLogoutAll, UserID: f.user.ID})
		if err != nil || n != 1 {
			t.Errorf("RevokeUserSessions = %d, %v; want 1", n, err)
		}
		if _, ok, _ := f.s.SessionUser(ctx, theirs.ID, f.now); !ok {
			t.Error("another user's session was revoked")
		}
	})
}

func TestDeleteEndedSessions(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newSessFixture(t, d)
		day, past := f.now.Add(24*time.Hour), f.now.Add(-time.Minute)
		f.session(f.user, "live", day, day)
		f.session(f.user, "idle", past, day)
		f.session(f.user, "ended1", past, past)
		f.session(f.user, "ended2", past, past)
		revoked := f.session(f.user, "revoked", day, day)
		if err := f.s.RevokeSession(ctx, "", revoked.ID, f.now, store.RevokeLogout, store.AuditEvent{At: f.now, Event: store.AuditLogout}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Refresh(ctx, "ended1", past.Add(-time.Second), rotateStep("ended1-child", past)); err != nil {
			t.Fatal(err)
		}
		total := 0
		for {
			n, err := f.s.DeleteEndedSessions(ctx, f.now, 2)
			if err != nil {
				t.Fatal(err)
			}
			total += n
			if n < 2 {
				break
			}
		}
		if total != 3 {
			t.Errorf("deleted %d sessions, want 3 (idle, ended1, ended2)", total)
		}
		for _, tc := range []struct {
			hash string
			kept bool
		}{{"live", true}, {"revoked", true}, {"idle", false}, {"ended1", false}, {"ended1-child", false}, {"ended2", false}} {
			_, err := f.s.LookupRefresh(ctx, tc.hash)
			if kept := err == nil; kept != tc.kept || (err != nil && !errors.Is(err, store.ErrNotFound)) {
				t.Errorf("token %s: err %v, want kept=%v", tc.hash, err, tc.kept)
			}
		}
	})
}
