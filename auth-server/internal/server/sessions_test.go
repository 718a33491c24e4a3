package server_test

import (
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// session is one login: its refresh and access tokens and its id.
type session struct{ rt, at, sid string }

func (e *env) newSession(username, pw string, header ...string) session {
	e.t.Helper()
	r := e.do("POST", "/login", map[string]string{"username": username, "password": pw}, header...)
	if r.Status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", username, r.Status, r.Raw)
	}
	return session{rt: r.str("refresh_token"), at: r.str("access_token"), sid: claimOf(e.t, r.str("access_token"), "sid")}
}

func TestLogout(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		uid := userIDOf(e.signup("bye", "bye@example.com", "password1"))
		a, b := e.newSession("bye", "password1"), e.newSession("bye", "password1")

		if r := e.do("POST", "/logout", map[string]string{"refresh_token": a.rt}); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Raw)
		}
		wantInvalidGrant(t, "refresh after logout", e.refreshTok(a.rt))
		if me := e.do("GET", "/me", nil, bearer(a.at)...); me.Status != http.StatusUnauthorized {
			t.Errorf("/me after logout: %d, want 401", me.Status)
		}
		b.rt = e.mustRefresh(b.rt).str("refresh_token") // the other session is untouched
		if !e.hasAudit(uid, store.AuditLogout, a.sid) {
			t.Error("no session.logout audit event")
		}
		for _, tc := range []struct {
			name   string
			body   any
			status int
		}{
			{"again", map[string]string{"refresh_token": a.rt}, 204},
			{"unknown token", map[string]string{"refresh_token": "nope"}, 204},
			{"missing token", map[string]string{}, 400},
			{"bad all", map[string]any{"refresh_token": b.rt, "all": "maybe"}, 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.do("POST", "/logout", tc.body); r.Status != tc.status {
					t.Errorf("%d %s, want %d", r.Status, r.Raw, tc.status)
				}
			})
		}
		b.rt = e.mustRefresh(b.rt).str("refresh_token")
	})
}

func TestLogoutAll(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		uid := userIDOf(e.signup("all", "all@example.com", "password1"))
		e.signup("bystander", "bystander@example.com", "password1")
		a, b, c := e.newSession("all", "password1"), e.newSession("all", "password1"), e.newSession("all", "password1")
		theirs := e.newSession("bystander", "password1")

		// A superseded token only ends its own session, even with all.
		old := c.rt
		c.rt = e.mustRefresh(c.rt).str("refresh_token")
		e.mustRefresh(c.rt)
		e.clock.Advance(20 * time.Second)
		if r := e.do("POST", "/logout", map[string]any{"refresh_token": old, "all": true}); r.Status != http.StatusNoContent {
			t.Fatalf("logout all with an old token: %d", r.Status)
		}
		wantInvalidGrant(t, "the old token's session", e.refreshTok(c.rt))
		a.rt = e.mustRefresh(a.rt).str("refresh_token")

		if r := e.do("POST", "/logout", map[string]any{"refresh_token": a.rt, "all": true}); r.Status != http.StatusNoContent {
			t.Fatalf("logout all: %d %s", r.Status, r.Raw)
		}
		wantInvalidGrant(t, "a", e.refreshTok(a.rt))
		wantInvalidGrant(t, "b", e.refreshTok(b.rt))
		if me := e.do("GET", "/me", nil, bearer(b.at)...); me.Status != http.StatusUnauthorized {
			t.Errorf("/me of another session after logout all: %d, want 401", me.Status)
		}
		e.mustRefresh(theirs.rt) // another user's session stays
		if !e.hasAudit(uid, store.AuditLogoutAll, a.sid) {
			t.Error("no session.logout_all audit event")
		}
	})
}

func TestRevoke(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("rev", "rev@example.com", "password1")
		a, b, c := e.newSession("rev", "password1"), e.newSession("rev", "password1"), e.newSession("rev", "password1")
		for _, tc := range []struct {
			name   string
			form   url.Values
			status int
		}{
			{"unknown", url.Values{"token": {"nope"}}, 200},
			{"unknown with hint", url.Values{"token": {"nope"}, "token_type_hint": {"refresh_token"}}, 200},
			{"garbage JWT", url.Values{"token": {"a.b.c"}, "token_type_hint": {"access_token"}}, 200},
			{"missing", url.Values{"token_type_hint": {"refresh_token"}}, 400},
			{"refresh token", url.Values{"token": {a.rt}, "token_type_hint": {"refresh_token"}}, 200},
			{"access token, wrong hint", url.Values{"token": {b.at}, "token_type_hint": {"refresh_token"}}, 200},
			{"revoked again", url.Values{"token": {a.rt}}, 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.do("POST", "/revoke", tc.form); r.Status != tc.status {
					t.Errorf("%d %s, want %d", r.Status, r.Raw, tc.status)
				}
			})
		}
		wantInvalidGrant(t, "revoked refresh token", e.refreshTok(a.rt))
		wantInvalidGrant(t, "session of a revoked access token", e.refreshTok(b.rt))
		e.mustRefresh(c.rt)
	})
}

func TestSessionsListAndEnd(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		uid := userIDOf(e.signup("lister", "lister@example.com", "password1"))
		e.signup("other", "other@example.com", "password1")
		a := e.newSession("lister", "password1", "User-Agent", "phone/1.0")
		b := e.newSession("lister", "password1", "User-Agent", "laptop/2.0")
		theirs := e.newSession("other", "password1")

		list := e.listSessions(a.at)
		if len(list) != 3 { // the signup's session, a and b
			t.Fatalf("sessions = %d, want 3: %v", len(list), list)
		}
		byID := map[string]map[string]any{}
		for _, s := range list {
			byID[s["id"].(string)] = s
			for _, k := range []string{"created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"} {
				if _, ok := s[k]; !ok {
					t.Errorf("session without %s: %v", k, s)
				}
			}
		}
		if byID[a.sid]["current"] != true || byID[b.sid]["current"] != false || byID[b.sid]["user_agent"] != "laptop/2.0" {
			t.Errorf("sessions = %v, want a current and b the laptop", list)
		}
		if _, ok := byID[theirs.sid]; ok {
			t.Error("another user's session is listed")
		}
		for _, tc := range []struct {
			name, id string
			status   int
		}{
			{"another user's", theirs.sid, 404},
			{"unknown", "00000000-0000-0000-0000-000000000000", 404},
			{"own other", b.sid, 204},
			{"own other again", b.sid, 404},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.do("DELETE", "/sessions/"+tc.id, nil, bearer(a.at)...); r.Status != tc.status {
					t.Errorf("%d %s, want %d", r.Status, r.Raw, tc.status)
				}
			})
		}
		if got := e.listSessions(a.at); len(got) != 2 {
			t.Errorf("sessions after ending one = %d, want 2", len(got))
		}
		wantInvalidGrant(t, "refresh of the ended session", e.refreshTok(b.rt))
		e.mustRefresh(theirs.rt)
		if !e.hasAudit(uid, store.AuditSessionEnded, b.sid) {
			t.Error("no session.ended audit event")
		}
		if r := e.do("GET", "/sessions", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("GET /sessions without a token: %d, want 401", r.Status)
		}
	})
}

func (e *env) listSessions(at string) []map[string]any {
	e.t.Helper()
	r := e.do("GET", "/sessions", nil, bearer(at)...)
	if r.Status != http.StatusOK {
		e.t.Fatalf("GET /sessions: %d %s", r.Status, r.Raw)
	}
	raw, _ := r.Body["sessions"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

func TestChangePassword(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("pwd", "pwd@example.com", "password1")
		uid, first := userIDOf(su), su.str("refresh_token")
		a, b := e.newSession("pwd", "password1"), e.newSession("pwd", "password1")
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"wrong current", map[string]string{"current_password": "nope-nope", "new_password": "password2"}, 403, "invalid_password"},
			{"new too short", map[string]string{"current_password": "password1", "new_password": "short"}, 400, "invalid_password"},
			{"missing", map[string]string{"current_password": "password1"}, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", "/password", tc.body, bearer(a.at)...)
				if r.Status != tc.status || r.str("error") != tc.code {
					t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
				}
			})
		}
		e.mustRefresh(b.rt) // failed attempts change nothing
		b = e.newSession("pwd", "password1")
		r := e.do("POST", "/password", map[string]string{"current_password": "password1", "new_password": "password2"}, bearer(a.at)...)
		if r.Status != http.StatusNoContent {
			t.Fatalf("change password: %d %s", r.Status, r.Raw)
		}
		wantInvalidGrant(t, "the signup's session", e.refreshTok(first))
		wantInvalidGrant(t, "another session", e.refreshTok(b.rt))
		if me := e.do("GET", "/me", nil, bearer(b.at)...); me.Status != http.StatusUnauthorized {
			t.Errorf("/me of an ended session: %d, want 401", me.Status)
		}
		e.mustRefresh(a.rt) // the current session stays
		if r := e.login("pwd", "password1"); r.Status != http.StatusUnauthorized {
			t.Errorf("login with the old password: %d, want 401", r.Status)
		}
		if r := e.login("pwd", "password2"); r.Status != http.StatusOK {
			t.Errorf("login with the new password: %d %s", r.Status, r.Raw)
		}
		if !e.hasAudit(uid, store.AuditPasswordChange, a.sid) {
			t.Error("no password.changed audit event")
		}
	})
}

// TestNoTokenInTheClearInDatabase dumps every column of every table of the auth database
// after signups, logins, refreshes and a replay, and finds none of the refresh or access
// tokens handed out, in any usual encoding.
func TestNoTokenInTheClearInDatabase(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		var refreshTokens, accessTokens []string
		keep := func(r resp) {
			refreshTokens = append(refreshTokens, r.str("refresh_token"))
			accessTokens = append(accessTokens, r.str("access_token"))
		}
		keep(e.signup("dump1", "dump1@example.com", "password1"))
		keep(e.signup("dump2", "dump2@example.com", "password1"))
		for range 2 {
			keep(e.login("dump1", "password1"))
		}
		rt := refreshTokens[len(refreshTokens)-1]
		for range 3 {
			r := e.mustRefresh(rt)
			keep(r)
			rt = r.str("refresh_token")
		}
		keep(e.mustRefresh(refreshTokens[len(refreshTokens)-2])) // a replay
		dump := dumpDatabase(t, d)
		if !strings.Contains(dump, refresh.Hash(rt)) {
			t.Fatal("the dump lacks the stored hash of the newest token: it does not read refresh_tokens")
		}
		for _, tok := range refreshTokens {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, form := range []string{tok, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw)} {
				if strings.Contains(strings.ToLower(dump), strings.ToLower(form)) {
					t.Errorf("a refresh token is in the database in the clear (%q)", form)
				}
			}
		}
		for _, at := range accessTokens {
			if strings.Contains(dump, at) || strings.Contains(dump, strings.Split(at, ".")[2]) {
				t.Error("an access token is in the database")
			}
		}
	})
}

// dumpDatabase returns every value of every column of every table, as text.
func dumpDatabase(t *testing.T, d *db.DB) string {
	t.Helper()
	cols, err := d.Columns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 10 {
		t.Fatalf("only %d columns found", len(cols))
	}
	var b strings.Builder
	for _, c := range cols {
		var vals []sql.NullString
		if err := d.Select(&vals, `SELECT CAST("`+c.Column+`" AS TEXT) FROM "`+c.Table+`"`); err != nil {
			t.Fatalf("dump %s.%s: %v", c.Table, c.Column, err)
		}
		for _, v := range vals {
			b.WriteString(v.String)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
