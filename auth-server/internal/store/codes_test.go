package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestCreateCodeInSession: a code stored through a browser's cookie takes the login session's
// user, id, auth_time and amr, and nothing is stored for a cookie of no live session: unknown,
// ended, expired, or of a disabled user.
func TestCreateCodeInSession(t *testing.T) {
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
		code := func(hash string) store.AuthCode {
			return store.AuthCode{Hash: hash, ClientID: "app", RedirectURI: "https://app.example/cb", Scope: []string{"openid"},
				CodeChallenge: "challenge", Nonce: "n", CreatedAt: now, ExpiresAt: now.Add(time.Minute),
				UserID: "ignored", LoginSessionID: "ignored"}
		}
		for _, cookie := range []string{"cookie-unknown", "cookie-expired", "cookie-ended", ""} {
			if err := s.CreateCodeInSession(ctx, code("code-"+cookie), cookie); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("cookie %q: %v, want ErrNotFound", cookie, err)
			}
		}
		if err := s.CreateCodeInSession(ctx, code("code-live"), "cookie-live"); err != nil {
			t.Fatal(err)
		}
		var row struct {
			UserID    string `db:"user_id"`
			SessionID string `db:"login_session_id"`
			AuthTime  int64  `db:"auth_time"`
			AMR       string `db:"amr"`
			Nonce     string `db:"nonce"`
			Expires   int64  `db:"expires_at"`
		}
		if err := d.GetContext(ctx, &row, d.Rebind(`SELECT user_id, login_session_id, auth_time, amr, nonce, expires_at FROM authorization_codes WHERE code_hash = ?`), "code-live"); err != nil {
			t.Fatal(err)
		}
		if row.UserID != u.ID || row.SessionID != live.ID || row.AuthTime != live.AuthTime.UnixMilli() ||
			!slices.Equal(strings.Fields(row.AMR), live.AMR) || row.Nonce != "n" || row.Expires != now.Add(time.Minute).UnixMilli() {
			t.Errorf("stored code = %+v, session %+v", row, live)
		}
		var n int
		if err := d.GetContext(ctx, &n, `SELECT count(*) FROM authorization_codes`); err != nil || n != 1 {
			t.Errorf("%d codes stored, %v", n, err)
		}
		// A disabled user's session issues no code.
		if _, err := s.SetDisabled(ctx, u.ID, true, now, nil, store.AuditEvent{At: now, Event: store.AuditUserDisabled, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		login("cookie-disabled", now.Add(time.Hour))
		if err := s.CreateCodeInSession(ctx, code("code-disabled"), "cookie-disabled"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user: %v, want ErrNotFound", err)
		}
	})
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
