package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// A disabled user: its sessions end at once, the right password gets 403 account_disabled, a
// wrong one the usual 401, a refresh invalid_grant; enabling allows logins again.
func TestDisabledUser(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("dina", "dina@example.com", "password1")
		id, _ := su.Body["user"].(map[string]any)["id"].(string)
		now := time.Now()
		if _, err := e.store.SetDisabled(context.Background(), id, true, now, nil, store.AuditEvent{At: now, Event: store.AuditUserDisabled, UserID: id}); err != nil {
			t.Fatal(err)
		}
		if r := e.login("dina", "password1"); r.Status != http.StatusForbidden || r.str("error") != "account_disabled" {
			t.Errorf("right password: %d %s, want 403 account_disabled", r.Status, r.Raw)
		}
		if r := e.login("dina", "wrong-password"); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_grant" {
			t.Errorf("wrong password: %d %s, want the usual 401", r.Status, r.Raw)
		}
		if r := e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {su.str("refresh_token")}}); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("refresh: %d %s, want 400 invalid_grant", r.Status, r.Raw)
		}
		if r := e.do("GET", "/me", nil, bearer(su.str("access_token"))...); r.Status != http.StatusUnauthorized {
			t.Errorf("GET /me with the old access token: %d, want 401", r.Status)
		}
		if _, err := e.store.SetDisabled(context.Background(), id, false, now, nil, store.AuditEvent{At: now, Event: store.AuditUserEnabled, UserID: id}); err != nil {
			t.Fatal(err)
		}
		if r := e.login("dina", "password1"); r.Status != http.StatusOK {
			t.Errorf("after enabling: %d %s", r.Status, r.Raw)
		}
	})
}
