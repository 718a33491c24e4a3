package server_test

// Tests of the defects that outside clients found (issue 12); each failed before its fix.

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// RFC 6749 §5.2: bad credentials at the token endpoint are 400 invalid_grant with no
// challenge; /login keeps the Python system's 401.
func TestTokenEndpointBadCredentials(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("tina", "tina@example.com", "password1")
		for _, tc := range []struct {
			name       string
			path       string
			body       url.Values
			wantStatus int
			wantAuth   string
		}{
			{"token wrong password", "/token", url.Values{"grant_type": {"password"}, "username": {"tina"}, "password": {"wrong-one"}}, http.StatusBadRequest, ""},
			{"token unknown user", "/token", url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"wrong-one"}}, http.StatusBadRequest, ""},
			{"token bad refresh token", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, http.StatusBadRequest, ""},
			{"login wrong password", "/login", url.Values{"username": {"tina"}, "password": {"wrong-one"}}, http.StatusUnauthorized, "Bearer"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", tc.path, tc.body)
				if r.Status != tc.wantStatus || r.str("error") != "invalid_grant" {
					t.Fatalf("got %d %s, want %d invalid_grant", r.Status, r.Raw, tc.wantStatus)
				}
				if got := r.Header.Get("WWW-Authenticate"); got != tc.wantAuth {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantAuth)
				}
			})
		}
	})
}

// The metadata names /me as the userinfo endpoint: it must carry the token's sub.
func TestMeHasSubject(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("sam", "sam@example.com", "password1")
		id, _ := su.Body["user"].(map[string]any)["id"].(string)
		r := e.do("GET", "/me", nil, bearer(su.str("access_token"))...)
		if r.Status != http.StatusOK || id == "" || r.str("sub") != id {
			t.Fatalf("GET /me = %d %s; want sub %q", r.Status, r.Raw, id)
		}
		if v, ok := r.Body["email_verified"].(bool); !ok || v {
			t.Errorf("email_verified = %v, want false", r.Body["email_verified"])
		}
	})
}

// DELETE /me checks the password with login's throttling: a stolen access token gives no
// unlimited guesses.
func TestDeleteMeThrottled(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("dora", "dora@example.com", "password1")
		auth := bearer(su.str("access_token"))
		for i := 0; i < 5; i++ {
			if r := e.do("DELETE", "/me", map[string]string{"password": "guess-" + string(rune('a'+i))}, auth...); r.Status != http.StatusForbidden {
				t.Fatalf("guess %d: %d %s", i, r.Status, r.Raw)
			}
		}
		r := e.do("DELETE", "/me", map[string]string{"password": "password1"}, auth...)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("after 5 wrong passwords: %d %s (Retry-After %q), want 429", r.Status, r.Raw, r.Header.Get("Retry-After"))
		}
		if r := e.do("GET", "/me", nil, auth...); r.Status != http.StatusOK {
			t.Fatalf("the account must still exist: %d %s", r.Status, r.Raw)
		}
	})
}

// A user's username and email share one throttle counter.
func TestThrottleKeyUsernameAndEmail(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("eve", "eve@example.com", "password1")
		logins := []string{"eve", "EVE@example.com", "eve", "eve@example.com", "Eve"}
		for i, l := range logins {
			if r := e.login(l, "wrong-password"); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
			}
		}
		for _, l := range []string{"eve", "eve@example.com"} {
			if r := e.login(l, "password1"); r.Status != http.StatusTooManyRequests {
				t.Errorf("login as %q after 5 failures by username and email: %d %s, want 429", l, r.Status, r.Raw)
			}
		}
	})
}

// An audit event commits with its change, or the change does not commit: with the audit
// table gone, a profile change and a deletion fail and change nothing.
func TestAuditCommitsWithChange(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("alma", "alma@example.com", "password1")
		auth := bearer(su.str("access_token"))
		if _, err := d.ExecContext(context.Background(), `ALTER TABLE audit_events RENAME TO audit_events_gone`); err != nil {
			t.Fatal(err)
		}
		if r := e.do("PATCH", "/me", map[string]string{"username": "alma2"}, auth...); r.Status < 500 {
			t.Errorf("PATCH /me without an audit trail: %d %s, want 5xx", r.Status, r.Raw)
		}
		if r := e.do("DELETE", "/me", map[string]string{"password": "password1"}, auth...); r.Status < 500 {
			t.Errorf("DELETE /me without an audit trail: %d %s, want 5xx", r.Status, r.Raw)
		}
		if r := e.login("alma", "wrong-password"); r.Status < 500 {
			t.Errorf("failed login without an audit trail: %d %s, want 5xx", r.Status, r.Raw)
		}
		if _, err := d.ExecContext(context.Background(), `ALTER TABLE audit_events_gone RENAME TO audit_events`); err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", "/me", nil, auth...)
		if r.Status != http.StatusOK || r.str("username") != "alma" {
			t.Fatalf("after the failed changes: %d %s, want alma unchanged", r.Status, r.Raw)
		}
		// The failed login counted nothing: five more wrong ones are allowed before a block.
		for i := 0; i < 5; i++ {
			if r := e.login("alma", "wrong-password"); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
			}
		}
	})
}
