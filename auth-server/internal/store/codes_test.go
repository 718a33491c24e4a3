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
