package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// adminToken makes an admin and returns an access token with scope admin.
func (e *env) adminToken() string {
	e.t.Helper()
	if _, err := e.accounts.CreateUser(context.Background(), account.CLI, account.NewUser{Username: "root", Email: "root@example.com",
		Password: "root-password", Roles: []string{"admin"}}); err != nil {
		e.t.Fatal(err)
	}
	r := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"root"}, "password": {"root-password"}, "scope": {"admin"}})
	if r.Status != http.StatusOK {
		e.t.Fatalf("admin login: %d %s", r.Status, r.Raw)
	}
	return r.str("access_token")
}

func TestAdminAccess(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		admin := e.adminToken()
		plain := e.login("root", "root-password").str("access_token") // the default scopes: no admin
		user := e.signup("ursula", "ursula@example.com", "password1")
		withScope := e.do("POST", "/token", url.Values{"grant_type": {"password"}, "username": {"ursula"}, "password": {"password1"}, "scope": {"admin"}}).str("access_token")
		for _, tc := range []struct {
			name, token string
			status      int
			code, auth  string
		}{
			{"admin token", admin, 200, "", ""},
			{"admin's ordinary token", plain, 403, "insufficient_scope", `Bearer error="insufficient_scope", scope="admin"`},
			{"non-admin with scope admin", withScope, 403, "forbidden", ""},
			{"a user's token", user.str("access_token"), 403, "forbidden", ""},
			{"no token", "", 401, "invalid_token", "Bearer"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var h []string
				if tc.token != "" {
					h = bearer(tc.token)
				}
				r := e.do("GET", "/admin/users", nil, h...)
				if r.Status != tc.status || r.str("error") != tc.code || r.Header.Get("WWW-Authenticate") != tc.auth {
					t.Errorf("got %d %s (WWW-Authenticate %q), want %d %s", r.Status, r.Raw, r.Header.Get("WWW-Authenticate"), tc.status, tc.code)
				}
			})
		}
		// Taking the role away stops the admin's token at once here: a role change revokes
		// the tokens issued before it (user.revoked).
		if _, err := e.accounts.ChangeRoles(context.Background(), account.CLI, "root", nil, []string{"admin"}); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/admin/users", nil, bearer(admin)...); r.Status != http.StatusUnauthorized {
			t.Errorf("after the role was removed: %d %s", r.Status, r.Raw)
		}
	})
}

func TestAdminUsers(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		auth := bearer(e.adminToken())
		for i := 0; i < 5; i++ {
			e.signup(fmt.Sprintf("member%d", i), fmt.Sprintf("m%d@example.com", i), "password1")
		}
		r := e.do("GET", "/admin/users?q=MEMBER&limit=2", nil, auth...)
		users, _ := r.Body["users"].([]any)
		if r.Status != http.StatusOK || len(users) != 2 || r.str("next_cursor") == "" {
			t.Fatalf("first page: %d %s", r.Status, r.Raw)
		}
		var names []string
		cursor := ""
		for {
			r := e.do("GET", "/admin/users?q=member&limit=2&cursor="+url.QueryEscape(cursor), nil, auth...)
			for _, u := range r.Body["users"].([]any) {
				names = append(names, u.(map[string]any)["username"].(string))
			}
			if cursor = r.str("next_cursor"); cursor == "" {
				break
			}
		}
		if fmt.Sprint(names) != "[member0 member1 member2 member3 member4]" {
			t.Errorf("paged names = %v", names)
		}
		for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=bm9wZQ", "cursor=%25%25", "cursor=" + url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte("a1:123:x")))} {
			if r := e.do("GET", "/admin/users?"+q, nil, auth...); r.Status != http.StatusBadRequest {
				t.Errorf("?%s: %d %s, want 400", q, r.Status, r.Raw)
			}
		}
		one := e.do("GET", "/admin/users?q=member0", nil, auth...).Body["users"].([]any)[0].(map[string]any)
		id := one["id"].(string)
		for _, k := range []string{"id", "username", "email", "email_verified", "roles", "disabled", "mfa", "created_at", "updated_at", "last_login_at"} {
			if _, ok := one[k]; !ok {
				t.Errorf("admin user lacks %q: %v", k, one)
			}
		}
		login := e.login("member0", "password1")
		for _, tc := range []struct {
			body   any
			status int
			code   string
		}{
			{map[string]any{"roles": []string{"Bad Role"}}, 400, "invalid_role"},
			{map[string]any{"email": "not-an-email"}, 400, "invalid_email"},
			{map[string]any{"username": "member1"}, 409, "user_exists"},
			{map[string]any{}, 400, "invalid_request"},
		} {
			if r := e.do("PATCH", "/admin/users/"+id, tc.body, auth...); r.Status != tc.status || r.str("error") != tc.code {
				t.Errorf("PATCH %v: %d %s, want %d %s", tc.body, r.Status, r.Raw, tc.status, tc.code)
			}
		}
		r = e.do("PATCH", "/admin/users/"+id, map[string]any{"roles": []string{"ops", "ops"}, "disabled": true}, auth...)
		if r.Status != http.StatusOK || r.Body["disabled"] != true || fmt.Sprint(r.Body["roles"]) != "[ops]" {
			t.Fatalf("PATCH roles and disabled: %d %s", r.Status, r.Raw)
		}
		if r := e.do("GET", "/me", nil, bearer(login.str("access_token"))...); r.Status != http.StatusUnauthorized {
			t.Errorf("a disabled user's session must end at once: %d", r.Status)
		}
		if r := e.do("PATCH", "/admin/users/"+id, map[string]any{"disabled": false}, auth...); r.Status != http.StatusOK || r.Body["disabled"] != false {
			t.Errorf("enable: %d %s", r.Status, r.Raw)
		}
		s2 := e.login("member0", "password1")
		if r := e.do("POST", "/admin/users/"+id+"/logout", nil, auth...); r.Status != http.StatusNoContent {
			t.Errorf("logout: %d %s", r.Status, r.Raw)
		}
		if r := e.do("GET", "/me", nil, bearer(s2.str("access_token"))...); r.Status != http.StatusUnauthorized {
			t.Errorf("after the admin logout: %d", r.Status)
		}
		if r := e.do("DELETE", "/admin/users/"+id, nil, auth...); r.Status != http.StatusNoContent {
			t.Errorf("delete: %d %s", r.Status, r.Raw)
		}
		if r := e.do("GET", "/admin/users/"+id, nil, auth...); r.Status != http.StatusNotFound {
			t.Errorf("deleted user: %d", r.Status)
		}
		// Every admin action is in the trail with its actor.
		r = e.do("GET", "/admin/audit?user_id="+id, nil, auth...)
		seen := map[string]string{}
		for _, ev := range r.Body["events"].([]any) {
			m := ev.(map[string]any)
			seen[m["type"].(string)] = m["actor"].(string)
		}
		for _, typ := range []string{"user.roles", "user.disabled", "user.enabled", "session.admin_logout", "user.deleted"} {
			if a := seen[typ]; len(a) < 6 || a[:5] != "user:" {
				t.Errorf("audit %s: actor %q (events %v)", typ, a, seen)
			}
		}
		if r := e.do("GET", "/admin/audit?type=user.deleted&limit=1", nil, auth...); r.Status != http.StatusOK || len(r.Body["events"].([]any)) != 1 {
			t.Errorf("audit by type: %d %s", r.Status, r.Raw)
		}
	})
}
