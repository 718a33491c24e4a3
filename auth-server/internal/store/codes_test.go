package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestLoginSessionByCookie: a browser's cookie finds (with LoginSessionForCode too) its live login session with the
// session's user, id, auth_time and amr, and nothing for a cookie of no live session:
// unknown, ended, expired, or of a disabled user.
func TestLoginSessionByCookie(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("carol")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		login := func(cookie string, expires time.Time) store.Session {
			t.Helper()
			sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: expires,
				ClientID: "first-party", AMR: []string{"pwd", "otp"}, AuthTime: now.Add(-time.Minute), CookieHash: cookie}
			if err := s.CreateLoginSession(ctx, sess, store.AuditEvent{At: now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID}); err != nil {
				t.Fatal(err)
			}
			return sess
		}
		live := login("cookie-live", now.Add(time.Hour))
		login("cookie-expired", now.Add(-time.Second))
		ended := login("cookie-ended", now.Add(time.Hour))
		if err := s.RevokeSession(ctx, u.ID, ended.ID, now, store.RevokeLogout, store.AuditEvent{At: now, Event: store.AuditLogout, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		for _, cookie := range []string{"cookie-unknown", "cookie-expired", "cookie-ended", ""} {
			if _, _, err := s.LoginSessionByCookie(ctx, cookie, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("cookie %q: %v, want ErrNotFound", cookie, err)
			}
			if _, err := s.LoginSessionForCode(ctx, cookie, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("cookie %q, for a code: %v, want ErrNotFound", cookie, err)
			}
		}
		if ls, err := s.LoginSessionForCode(ctx, "cookie-live", now); err != nil || ls.ID != live.ID || ls.UserID != u.ID ||
			!ls.AuthTime.Equal(live.AuthTime) || !slices.Equal(ls.AMR, live.AMR) {
			t.Errorf("login session for a code = %+v, %v; want %+v", ls, err, live)
		}
		var tokens int
		if err := d.GetContext(ctx, &tokens, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE session_id = ?`), live.ID); err != nil || tokens != 0 {
			t.Errorf("a login session has %d refresh tokens, %v", tokens, err)
		}
		ls, got, err := s.LoginSessionByCookie(ctx, "cookie-live", now)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || ls.ID != live.ID || ls.UserID != u.ID || !ls.AuthTime.Equal(live.AuthTime) || !slices.Equal(ls.AMR, live.AMR) {
			t.Errorf("login session = %+v of %+v, want %+v", ls, got, live)
		}
		// A disabled user's session is no login session.
		if _, err := s.SetDisabled(ctx, u.ID, true, now, nil, store.AuditEvent{At: now, Event: store.AuditUserDisabled, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.LoginSessionByCookie(ctx, "cookie-live", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user: %v, want ErrNotFound", err)
		}
		if _, err := s.LoginSessionForCode(ctx, "cookie-live", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user, for a code: %v, want ErrNotFound", err)
		}
	})
}

// TestExchangeCode: a code's first exchange records it with the session it starts; a refused
// exchange (the caller's decision) records nothing and leaves the code usable; the code again
// revokes that session; and of several exchanges of one code at once exactly one starts a
// session, which the others revoke.
func TestExchangeCode(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		u := newUser("dave")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		code := func(id string) store.AuthCode {
			return store.AuthCode{Hash: id, ClientID: "app", RedirectURI: "https://app.example/cb", UserID: u.ID, LoginSessionID: "ls",
				Scope: []string{"openid"}, CodeChallenge: "challenge", Nonce: "n", AuthTime: now.Add(-time.Minute), AMR: []string{"pwd"},
				CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		}
		start := func(c store.AuthCode) (store.CodeExchange, error) {
			sess := newSession(u.ID, "")
			return store.CodeExchange{Session: sess, TokenHash: "token-" + sess.ID, TokenExpires: sess.ExpiresAt,
				Audit: store.AuditEvent{At: now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID}}, nil
		}
		refused := errors.New("wrong verifier")
		if _, _, err := s.ExchangeCode(ctx, code("one"), now, func(store.AuthCode) (store.CodeExchange, error) { return store.CodeExchange{}, refused }); !errors.Is(err, refused) {
			t.Fatalf("refused exchange: %v", err)
		}
		got, user, err := s.ExchangeCode(ctx, code("one"), now, start)
		if err != nil || user.ID != u.ID || got.SessionID == "" {
			t.Fatalf("first exchange: %+v of %+v, %v", got, user, err)
		}
		var row struct {
			Session string `db:"session_id"`
			Used    int64  `db:"used_at"`
			Nonce   string `db:"nonce"`
		}
		if err := d.GetContext(ctx, &row, d.Rebind(`SELECT session_id, used_at, nonce FROM authorization_codes WHERE code_hash = ?`), "one"); err != nil ||
			row.Session != got.SessionID || row.Used != now.UnixMilli() || row.Nonce != "n" {
			t.Errorf("the code's record = %+v, %v; want session %s used at %d", row, err, got.SessionID, now.UnixMilli())
		}
		if !liveSession(t, s, u.ID, got.SessionID, now) {
			t.Fatal("the exchange's session is not live")
		}
		var written struct {
			AuthTime int64 `db:"auth_time"`
			Tokens   int   `db:"tokens"`
			Audits   int   `db:"audits"`
		}
		if err := d.GetContext(ctx, &written, d.Rebind(`SELECT s.auth_time,
 (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.token_hash = ?) AS tokens,
 (SELECT count(*) FROM audit_events a WHERE a.session_id = s.id) AS audits FROM sessions s WHERE s.id = ?`), "token-"+got.SessionID, got.SessionID); err != nil ||
			written.AuthTime != code("one").AuthTime.UnixMilli() || written.Tokens != 1 || written.Audits != 1 {
			t.Errorf("the exchange wrote %+v, %v; want the code's auth_time, one refresh token, one audit event", written, err)
		}
		if back, err := s.UserByID(ctx, u.ID); err != nil || back.LastLoginAt.Before(now) {
			t.Errorf("last log-in = %v, %v; want the session's start, after %v", back.LastLoginAt, err, now)
		}
		again, _, err := s.ExchangeCode(ctx, code("one"), now, start)
		if !errors.Is(err, store.ErrCodeReused) || again.SessionID != got.SessionID {
			t.Fatalf("the code again: %+v, %v; want ErrCodeReused naming %s", again, err, got.SessionID)
		}
		if liveSession(t, s, u.ID, got.SessionID, now) {
			t.Error("the session of a replayed code is still live")
		}

		// A code of a user deleted since: unknown, and nothing recorded.
		gone := newUser("gone")
		if err := s.CreateUser(ctx, gone, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, gone.ID, now, nil, store.AuditEvent{At: now, Event: store.AuditUserDeleted}); err != nil {
			t.Fatal(err)
		}
		orphan := code("orphan")
		orphan.UserID = gone.ID
		if _, _, err := s.ExchangeCode(ctx, orphan, now, start); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a code of a deleted user: %v, want ErrNotFound", err)
		}
		var orphans int
		if err := d.GetContext(ctx, &orphans, d.Rebind(`SELECT count(*) FROM authorization_codes WHERE code_hash = ?`), "orphan"); err != nil || orphans != 0 {
			t.Errorf("%d records of the deleted user's code, %v", orphans, err)
		}

		const racers = 6
		errs := make(chan error, racers)
		for range racers {
			go func() { _, _, err := s.ExchangeCode(ctx, code("raced"), now, start); errs <- err }()
		}
		won := 0
		for range racers {
			switch err := <-errs; {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrCodeReused):
				t.Errorf("a racing exchange: %v", err)
			}
		}
		var sessions int
		if err := d.GetContext(ctx, &sessions, d.Rebind(`SELECT count(*) FROM sessions WHERE id = (SELECT session_id FROM authorization_codes WHERE code_hash = ?)`), "raced"); err != nil {
			t.Fatal(err)
		}
		if won != 1 || sessions != 1 {
			t.Errorf("%d of %d racing exchanges won, %d session recorded; want exactly one", won, racers, sessions)
		}
	})
}

// liveSession reports whether the user's session id is among their live sessions.
func liveSession(t *testing.T, s *store.Store, userID, id string, now time.Time) bool {
	t.Helper()
	live, err := s.ListSessions(context.Background(), userID, now)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(live, func(x store.Session) bool { return x.ID == id })
}

// TestCreateSessionWritesEverything: a log-in's session (one statement on PostgreSQL, a
// transaction on SQLite) stores the session with every field, its first refresh token, the
// audit event and the user's last log-in time.
func TestCreateSessionWritesEverything(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s, ctx := store.New(d), context.Background()
		u := newUser("erin")
		if err := s.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		sess := newSession(u.ID, "")
		sess.UserAgent, sess.IP, sess.AMR = "curl/8", "192.0.2.7", []string{"pwd"}
		idle := sess.CreatedAt.Add(30 * time.Minute)
		ev := store.AuditEvent{At: sess.CreatedAt, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID, IP: sess.IP, Detail: "d"}
		if err := s.CreateSession(ctx, sess, "token-hash", idle, ev); err != nil {
			t.Fatal(err)
		}
		live, err := s.ListSessions(ctx, u.ID, sess.CreatedAt)
		if err != nil || len(live) != 1 {
			t.Fatalf("sessions = %+v, %v", live, err)
		}
		got := live[0]
		if got.ID != sess.ID || got.ClientID != "first-party" || !slices.Equal(got.Scope, sess.Scope) || !slices.Equal(got.AMR, sess.AMR) ||
			got.UserAgent != "curl/8" || got.IP != "192.0.2.7" || !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.IdleExpiresAt.Equal(idle) {
			t.Errorf("session = %+v, want %+v idle until %v", got, sess, idle)
		}
		var tokens int
		if err := d.GetContext(ctx, &tokens, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE token_hash = ? AND session_id = ? AND expires_at = ?`),
			"token-hash", sess.ID, idle.UnixMilli()); err != nil || tokens != 1 {
			t.Errorf("refresh token rows = %d, %v", tokens, err)
		}
		trail, err := s.AuditPage(ctx, store.AuditQuery{UserID: u.ID, Type: store.AuditLoginSuccess, Limit: 10})
		if err != nil || len(trail) != 1 || trail[0].SessionID != sess.ID || trail[0].IP != sess.IP || trail[0].Detail != "d" || trail[0].ID == "" {
			t.Errorf("audit = %+v, %v", trail, err)
		}
		if back, err := s.UserByID(ctx, u.ID); err != nil || !back.LastLoginAt.Equal(sess.CreatedAt) {
			t.Errorf("last log-in = %v, %v; want %v", back.LastLoginAt, err, sess.CreatedAt)
		}
		// A session of a user that does not exist is refused, and nothing is left of it.
		ghost := newSession(uuid.NewString(), "")
		if err := s.CreateSession(ctx, ghost, "ghost-hash", idle, store.AuditEvent{At: ghost.CreatedAt, Event: store.AuditLoginSuccess}); err == nil {
			t.Error("a session of no user was stored")
		}
		var n int
		if err := d.GetContext(ctx, &n, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE token_hash = ?`), "ghost-hash"); err != nil || n != 0 {
			t.Errorf("ghost token rows = %d, %v", n, err)
		}
	})
}
