package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// mfaUser creates a user with a confirmed TOTP secret (last step 100) and the recovery codes
// stored under hashes.
func mfaUser(t *testing.T, s *store.Store, name string, hashes ...string) store.User {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC().Truncate(time.Millisecond)
	u := newUser(name)
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPendingTOTP(ctx, u.ID, "sealed-"+name, now); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(ctx, u.ID, "sealed-"+name, 100, hashes, now, store.AuditEvent{At: now, Event: store.AuditMFAEnabled, UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTOTPEnrolment(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx, now := store.New(d), context.Background(), time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("alice")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TOTPOf(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before enrolment: %v", err)
		}
		// A second enrolment replaces a pending one; a code of the first no longer confirms.
		for _, sealed := range []string{"first", "second"} {
			if err := s.PutPendingTOTP(ctx, u.ID, sealed, now); err != nil {
				t.Fatal(err)
			}
		}
		ev := store.AuditEvent{At: now, Event: store.AuditMFAEnabled, UserID: u.ID}
		if err := s.ConfirmTOTP(ctx, u.ID, "first", 5, []string{"h1"}, now, ev); !errors.Is(err, store.ErrFactorUsed) {
			t.Errorf("confirm a replaced secret: %v", err)
		}
		if got, _ := s.UserByID(ctx, u.ID); got.MFA {
			t.Error("pending secret counts as enabled")
		}
		if err := s.ConfirmTOTP(ctx, u.ID, "second", 5, []string{"h1", "h2"}, now, ev); err != nil {
			t.Fatal(err)
		}
		got, err := s.TOTPOf(ctx, u.ID)
		if err != nil || got.Sealed != "second" || !got.Confirmed() || got.LastStep != 5 {
			t.Errorf("TOTPOf = %+v, %v", got, err)
		}
		if err := s.PutPendingTOTP(ctx, u.ID, "third", now); !errors.Is(err, store.ErrMFAEnabled) {
			t.Errorf("enrol again while enabled: %v", err)
		}
		if n, err := s.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 2 {
			t.Errorf("recovery codes left = %d, %v", n, err)
		}
		// Every user read says so: by id, by login, in a search.
		byID, err1 := s.UserByID(ctx, u.ID)
		byLogin, err2 := s.UserByLogin(ctx, u.Email)
		found, err3 := s.FindUsers(ctx, store.UserQuery{Prefix: strings.ToLower(u.Username), Limit: 10})
		if err := errors.Join(err1, err2, err3); err != nil || !byID.MFA || !byLogin.MFA || len(found) != 1 || !found[0].MFA {
			t.Errorf("MFA by id %v, by login %v, found %+v: %v", byID.MFA, byLogin.MFA, found, err)
		}
		// Removal with a used code changes nothing; with a fresh one it removes everything.
		rm := store.AuditEvent{At: now.Add(time.Millisecond), Event: store.AuditMFARemoved, UserID: u.ID}
		if err := s.RemoveTOTP(ctx, u.ID, &store.Factor{Step: 5}, now, rm); !errors.Is(err, store.ErrFactorUsed) {
			t.Errorf("remove with a used step: %v", err)
		}
		if err := s.RemoveTOTP(ctx, u.ID, &store.Factor{RecoveryHash: "h2"}, now, rm); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TOTPOf(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after removal: %v", err)
		}
		if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != 0 {
			t.Errorf("recovery codes after removal: %d", n)
		}
		if err := s.RemoveTOTP(ctx, u.ID, nil, now, rm); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("remove twice: %v", err)
		}
		trail, _ := s.AuditEvents(ctx, u.ID, 10)
		var names []string
		for _, e := range trail {
			names = append(names, e.Event)
		}
		if want := []string{store.AuditMFARemoved, store.AuditMFAEnabled}; !slices.Equal(names, want) {
			t.Errorf("audit = %v, want %v", names, want)
		}
	})
}

// completeMFA runs the second step of challenge hash for u with f, starting a fresh session.
func completeMFA(s *store.Store, u store.User, hash string, f store.Factor) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour), AMR: []string{"pwd", "otp"}}
	return s.CompleteMFALogin(context.Background(), hash, f, sess, uuid.NewString(), now.Add(time.Hour),
		store.AuditEvent{At: now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID})
}

func newChallenge(t *testing.T, s *store.Store, u store.User, ttl time.Duration) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := store.MFAChallenge{Hash: uuid.NewString(), UserID: u.ID, ClientID: "first-party", Scope: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.CreateMFAChallenge(context.Background(), c, store.AuditEvent{At: now, Event: store.AuditMFAChallenge, UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	return c.Hash
}

func TestMFALoginSpendsOnce(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		u := mfaUser(t, s, "bob", "r1")
		h := newChallenge(t, s, u, time.Minute)
		st, err := s.MFALogin(ctx, h, time.Now())
		got, secret := st.Challenge, st.TOTP
		if err != nil || got.UserID != u.ID || got.ClientID != "first-party" || !slices.Equal(got.Scope, []string{"openid"}) ||
			secret.Sealed != "sealed-bob" || !secret.Confirmed() || secret.LastStep != 100 {
			t.Fatalf("MFALogin = %+v, %+v, %v", got, secret, err)
		}
		if st.User.ID != u.ID || st.User.Username != u.Username || st.User.Email != u.Email || !st.User.MFA {
			t.Errorf("MFALogin's user = %+v", st.User)
		}
		// A replayed step (100 was accepted at confirmation) leaves the challenge usable.
		if err := completeMFA(s, u, h, store.Factor{Step: 100}); !errors.Is(err, store.ErrFactorUsed) {
			t.Fatalf("replayed step: %v", err)
		}
		if err := completeMFA(s, u, h, store.Factor{Step: 101}); err != nil {
			t.Fatal(err)
		}
		if err := completeMFA(s, u, h, store.Factor{Step: 102}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("challenge used twice: %v", err)
		}
		if _, err := s.MFALogin(ctx, h, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("used challenge still found: %v", err)
		}
		sessions, _ := s.ListSessions(ctx, u.ID, time.Now())
		if len(sessions) != 1 || !slices.Equal(sessions[0].AMR, []string{"pwd", "otp"}) {
			t.Errorf("sessions = %+v", sessions)
		}
		// An expired challenge is refused, then swept.
		old := newChallenge(t, s, u, time.Millisecond)
		if _, err := s.MFALogin(ctx, old, time.Now().Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired challenge: %v", err)
		}
		if n, err := s.DeleteExpiredMFAChallenges(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
			t.Errorf("swept %d, %v", n, err)
		}
	})
}

// TestMFAConcurrentUse: of concurrent uses of one TOTP step, or of one recovery code, each with
// its own challenge, exactly one wins; so does one of concurrent uses of one challenge.
func TestMFAConcurrentUse(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		u := mfaUser(t, s, "carol", "r1")
		const n = 8
		race := func(name string, hash func(i int) string, f func(i int) store.Factor) {
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { errs[i] = completeMFA(s, u, hash(i), f(i)) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrFactorUsed), errors.Is(err, store.ErrNotFound):
				default:
					t.Errorf("%s: %v", name, err)
				}
			}
			if won != 1 {
				t.Errorf("%s: %d of %d won, want exactly 1", name, won, n)
			}
		}
		challenges := func() func(int) string {
			hs := make([]string, n)
			for i := range hs {
				hs[i] = newChallenge(t, s, u, time.Minute)
			}
			return func(i int) string { return hs[i] }
		}
		race("one totp step", challenges(), func(int) store.Factor { return store.Factor{Step: 200} })
		race("one recovery code", challenges(), func(int) store.Factor { return store.Factor{RecoveryHash: "r1"} })
		one := newChallenge(t, s, u, time.Minute)
		race("one challenge", func(int) string { return one }, func(i int) store.Factor { return store.Factor{Step: int64(300 + i)} })
		if left, _ := s.RecoveryCodesLeft(context.Background(), u.ID); left != 0 {
			t.Errorf("recovery codes left = %d", left)
		}
	})
}

// TestCompleteMFALoginWrites: finishing a second step (one statement on PostgreSQL, a
// transaction on SQLite) spends the challenge and the factor and writes the user's last
// log-in, the session, its first refresh token when there is one, and every audit event;
// a spent factor changes nothing at all.
func TestCompleteMFALoginWrites(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		u := mfaUser(t, s, "frank", "r1", "r2")
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := d.GetContext(ctx, &n, d.Rebind(q), args...); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tc := range []struct {
			name   string
			f      store.Factor
			token  string
			audits int
		}{
			{"totp, refresh token", store.Factor{Step: 500}, "tok-totp", 1},
			{"recovery code, login session", store.Factor{RecoveryHash: "r2"}, "", 2},
		} {
			h := newChallenge(t, s, u, time.Minute)
			now := time.Now().UTC().Truncate(time.Millisecond).Add(time.Duration(tc.audits) * time.Second)
			sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour),
				AMR: []string{"pwd", "otp"}, ClientID: "first-party", Scope: []string{"openid"}, IP: "192.0.2.9", UserAgent: "ua", AuthTime: now}
			var evs []store.AuditEvent
			for i := range tc.audits {
				evs = append(evs, store.AuditEvent{At: now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID, Detail: fmt.Sprint(i)})
			}
			// A spent factor first: nothing changes, the challenge stays.
			if err := s.CompleteMFALogin(ctx, h, store.Factor{Step: 100}, sess, tc.token, now.Add(time.Hour), evs...); !errors.Is(err, store.ErrFactorUsed) {
				t.Fatalf("%s: spent step: %v", tc.name, err)
			}
			if n := count(`SELECT count(*) FROM sessions WHERE id = ?`, sess.ID) + count(`SELECT count(*) FROM audit_events WHERE session_id = ?`, sess.ID); n != 0 {
				t.Fatalf("%s: a refused factor wrote %d rows", tc.name, n)
			}
			if err := s.CompleteMFALogin(ctx, h, tc.f, sess, tc.token, now.Add(time.Hour), evs...); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if n := count(`SELECT count(*) FROM mfa_challenges WHERE token_hash = ?`, h); n != 0 {
				t.Errorf("%s: challenge left", tc.name)
			}
			live, err := s.ListSessions(ctx, u.ID, now)
			if err != nil || !slices.ContainsFunc(live, func(x store.Session) bool {
				return x.ID == sess.ID && slices.Equal(x.AMR, sess.AMR) && x.IP == sess.IP && slices.Equal(x.Scope, sess.Scope)
			}) {
				t.Errorf("%s: sessions %+v, %v", tc.name, live, err)
			}
			wantTokens := 0
			if tc.token != "" {
				wantTokens = 1
			}
			if n := count(`SELECT count(*) FROM refresh_tokens WHERE session_id = ?`, sess.ID); n != wantTokens {
				t.Errorf("%s: %d refresh tokens, want %d", tc.name, n, wantTokens)
			}
			if n := count(`SELECT count(*) FROM audit_events WHERE session_id = ?`, sess.ID); n != tc.audits {
				t.Errorf("%s: %d audit events, want %d", tc.name, n, tc.audits)
			}
			if back, err := s.UserByID(ctx, u.ID); err != nil || !back.LastLoginAt.Equal(now) {
				t.Errorf("%s: last log-in %v, %v; want %v", tc.name, back.LastLoginAt, err, now)
			}
		}
		if got, _ := s.TOTPOf(ctx, u.ID); got.LastStep != 500 {
			t.Errorf("last step = %d, want 500", got.LastStep)
		}
		if left, _ := s.RecoveryCodesLeft(ctx, u.ID); left != 1 {
			t.Errorf("recovery codes left = %d, want 1", left)
		}
	})
}
