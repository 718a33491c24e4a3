package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestSignupValidation(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("taken", "taken@example.com", "password1")
		long := strings.Repeat("x", 257)
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"ok upper case", map[string]string{"username": "Bob.Smith_1-x", "email": "Bob@Example.COM", "password": "12345678"}, 201, ""},
			{"username too short", map[string]string{"username": "ab", "email": "a1@example.com", "password": "password1"}, 400, "invalid_username"},
			{"username too long", map[string]string{"username": strings.Repeat("a", 33), "email": "a2@example.com", "password": "password1"}, 400, "invalid_username"},
			{"username bad char", map[string]string{"username": "al ice", "email": "a3@example.com", "password": "password1"}, 400, "invalid_username"},
			{"username unicode", map[string]string{"username": "ålice", "email": "a4@example.com", "password": "password1"}, 400, "invalid_username"},
			{"email invalid", map[string]string{"username": "alice5", "email": "not-an-email", "password": "password1"}, 400, "invalid_email"},
			{"email with name", map[string]string{"username": "alice6", "email": "Al <a6@example.com>", "password": "password1"}, 400, "invalid_email"},
			{"email no dot", map[string]string{"username": "alice7", "email": "a7@localhost", "password": "password1"}, 400, "invalid_email"},
			{"password short", map[string]string{"username": "alice8", "email": "a8@example.com", "password": "1234567"}, 400, "invalid_password"},
			{"password long", map[string]string{"username": "alice9", "email": "a9@example.com", "password": long}, 400, "invalid_password"},
			{"missing field", map[string]string{"username": "alice10", "email": "a10@example.com"}, 400, "invalid_request"},
			{"wrong type", map[string]any{"username": 5, "email": "a11@example.com", "password": "password1"}, 400, "invalid_request"},
			{"malformed json", `{"username":`, 400, "invalid_request"},
			{"duplicate username other case", map[string]string{"username": "TAKEN", "email": "other@example.com", "password": "password1"}, 409, "user_exists"},
			{"duplicate email other case", map[string]string{"username": "other", "email": "Taken@Example.com", "password": "password1"}, 409, "user_exists"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", "/signup", tc.body)
				if r.Status != tc.status {
					t.Fatalf("status = %d, want %d (%s)", r.Status, tc.status, r.Raw)
				}
				if tc.code != "" && r.str("error") != tc.code {
					t.Errorf("error = %q, want %q", r.str("error"), tc.code)
				}
				if tc.status >= 400 && r.str("error_description") == "" {
					t.Errorf("no error_description in %s", r.Raw)
				}
			})
		}
		n, err := e.store.CountUsers(t.Context())
		if err != nil || n != 2 {
			t.Errorf("users = %d, %v; want 2 (failed signups must change nothing)", n, err)
		}
	})
}

func TestSignupResponse(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := e.signup("Carol", "Carol@Example.com", "password1")
		user, _ := r.Body["user"].(map[string]any)
		if user["username"] != "carol" || user["email"] != "carol@example.com" || user["id"] == "" {
			t.Errorf("user = %v", user)
		}
		if r.str("token_type") != "Bearer" || r.str("access_token") == "" || len(r.str("refresh_token")) < 43 {
			t.Errorf("token fields: %s", r.Raw)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
		}
	})
}

func TestHTTPHygiene(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		big := `{"username":"` + strings.Repeat("a", 70<<10) + `"}`
		for _, tc := range []struct {
			name, method, path, ctype string
			body                      string
			status                    int
		}{
			{"413 signup", "POST", "/signup", "application/json", big, http.StatusRequestEntityTooLarge},
			{"413 login", "POST", "/login", "application/x-www-form-urlencoded", "username=" + strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
			{"415 signup form", "POST", "/signup", "application/x-www-form-urlencoded", "username=a", http.StatusUnsupportedMediaType},
			{"415 login xml", "POST", "/login", "application/xml", "<a/>", http.StatusUnsupportedMediaType},
			{"404", "GET", "/nope", "", "", http.StatusNotFound},
			{"405", "GET", "/signup", "", "", http.StatusMethodNotAllowed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(tc.method, tc.path, tc.body, "Content-Type", tc.ctype)
				if r.Status != tc.status {
					t.Fatalf("status = %d, want %d (%s)", r.Status, tc.status, r.Raw)
				}
				if r.str("error") == "" {
					t.Errorf("no JSON error body: %s", r.Raw)
				}
			})
		}
	})
}
