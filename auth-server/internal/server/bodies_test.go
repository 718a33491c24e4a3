package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestRequestBodies holds every body-reading endpoint to the shared decoding rules: trailing
// data after the JSON value is refused, another content type is 415, a body over 64 KiB 413.
func TestRequestBodies(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("alice", "alice@example.com", "password1")
		signup := `{"username":"bob","email":"bob@example.com","password":"password1"}`
		login := `{"username":"alice","password":"password1"}`
		big := `{"username":"` + strings.Repeat("x", 70<<10) + `"}`
		for _, tc := range []struct {
			name, path string
			body       any
			header     []string
			status     int
			code       string
		}{
			{"signup trailing object", "/signup", signup + `{"username":"eve"}`, nil, 400, "invalid_request"},
			{"signup trailing garbage", "/signup", signup + ` x`, nil, 400, "invalid_request"},
			{"login trailing object", "/login", login + `{}`, nil, 400, "invalid_request"},
			{"token trailing object", "/token", `{"grant_type":"password","username":"alice","password":"password1"}[]`, nil, 400, "invalid_request"},
			{"refresh trailing object", "/refresh", `{"refresh_token":"x"} {}`, nil, 400, "invalid_request"},
			{"signup empty", "/signup", ``, nil, 400, "invalid_request"},
			{"signup text", "/signup", signup, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"token text", "/token", "grant_type=password", []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"signup over 64 KiB", "/signup", big, nil, 413, "request_too_large"},
			{"token form over 64 KiB", "/token", url.Values{"password": {strings.Repeat("x", 70<<10)}}, nil, 413, "request_too_large"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", tc.path, tc.body, tc.header...)
				if r.Status != tc.status || r.str("error") != tc.code || r.str("error_description") == "" {
					t.Fatalf("%s: %d %s, want %d %s", tc.path, r.Status, r.Raw, tc.status, tc.code)
				}
			})
		}
		if n, err := e.store.CountUsers(t.Context()); err != nil || n != 1 {
			t.Errorf("users = %d, %v; want 1 (refused bodies change nothing)", n, err)
		}
	})
}

// The request id is the client's when it sent one, else a fresh one, on every answer.
func TestRequestID(t *testing.T) {
	e := newEnv(t, testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema))
	if got := e.do("GET", "/healthz", nil, "X-Request-Id", "abc-123").Header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id = %q, want the client's", got)
	}
	a, b := e.do("GET", "/healthz", nil).Header.Get("X-Request-Id"), e.do("GET", "/nowhere", nil).Header.Get("X-Request-Id")
	if len(a) != 16 || len(b) != 16 || a == b {
		t.Fatalf("generated X-Request-Ids %q, %q: want two distinct 16 hex characters", a, b)
	}
	if r := e.do("GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz = %d %s", r.Status, r.Raw)
	}
}
