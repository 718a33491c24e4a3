package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestLoginForms(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("dave", "dave@example.com", "password1")
		for _, tc := range []struct {
			name string
			path string
			body any
		}{
			{"json username", "/login", map[string]string{"username": "dave", "password": "password1"}},
			{"json upper case", "/login", map[string]string{"username": "DAVE", "password": "password1"}},
			{"json email", "/login", map[string]string{"username": "Dave@Example.com", "password": "password1"}},
			{"seed form", "/login", url.Values{"username": {"dave"}, "password": {"password1"}, "grant_type": {"password"}, "scope": {""}, "client_id": {""}, "client_secret": {""}}},
			{"token password grant form", "/token", url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"password1"}}},
			{"token password grant json", "/token", map[string]string{"grant_type": "password", "username": "dave", "password": "password1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", tc.path, tc.body)
				if r.Status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("token_type") != "Bearer" {
					t.Fatalf("%d %s", r.Status, r.Raw)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
				}
			})
		}
		for _, tc := range []struct {
			name   string
			path   string
			body   any
			status int
			code   string
		}{
			{"missing password", "/login", map[string]string{"username": "dave"}, 400, "invalid_request"},
			{"bad grant on login", "/login", url.Values{"grant_type": {"client_credentials"}, "username": {"dave"}, "password": {"x"}}, 400, "unsupported_grant_type"},
			{"token no grant", "/token", url.Values{"username": {"dave"}}, 400, "invalid_request"},
			{"token unknown grant", "/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, 400, "unsupported_grant_type"},
			{"code grant without its parameters", "/token", url.Values{"grant_type": {"authorization_code"}}, 400, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", tc.path, tc.body)
				if r.Status != tc.status || r.str("error") != tc.code {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
				}
			})
		}
	})
}

// An unknown user and a wrong password get the same answer, byte for byte but the request id.
func TestLoginUnknownUserAndWrongPasswordLookAlike(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("erin", "erin@example.com", "password1")
		wrong := e.login("erin", "password2")
		unknown := e.login("nobody", "password2")
		if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
			t.Fatalf("statuses %d %d", wrong.Status, unknown.Status)
		}
		if string(wrong.Raw) != string(unknown.Raw) || wrong.str("error") != "invalid_grant" {
			t.Errorf("bodies differ:\n%s\n%s", wrong.Raw, unknown.Raw)
		}
		if wrong.Header.Get("WWW-Authenticate") != unknown.Header.Get("WWW-Authenticate") {
			t.Errorf("headers differ")
		}
	})
}

func TestLoginThrottling(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("frank", "frank@example.com", "password1")
		e.signup("grace", "grace@example.com", "password1")
		for i := 0; i < 4; i++ {
			if r := e.login("frank", "wrong-pass"); r.Status != 401 {
				t.Fatalf("failure %d: %d", i+1, r.Status)
			}
		}
		// The fifth failure blocks the account.
		if r := e.login("frank", "wrong-pass"); r.Status != 401 {
			t.Fatalf("5th failure: %d", r.Status)
		}
		r := e.login("frank", "password1")
		if r.Status != http.StatusTooManyRequests || r.str("error") != "too_many_requests" {
			t.Fatalf("right password while throttled: %d %s", r.Status, r.Raw)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
		// Another account from the same address is not blocked by frank's account counter.
		if r := e.login("grace", "password1"); r.Status != 200 {
			t.Errorf("other account: %d %s", r.Status, r.Raw)
		}
		// The block is released after Retry-After, and a success clears the account counter.
		e.clock.Advance(2 * time.Second)
		if r := e.login("frank", "password1"); r.Status != 200 {
			t.Fatalf("after release: %d %s", r.Status, r.Raw)
		}
		if r := e.login("frank", "wrong-pass"); r.Status != 401 {
			t.Errorf("after success the count restarts: %d", r.Status)
		}
		events, err := e.store.AuditEvents(context.Background(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, ev := range events {
			counts[ev.Event]++
		}
		if counts[store.AuditLoginThrottled] != 1 || counts[store.AuditLoginFailure] != 6 {
			t.Errorf("audit counts = %v", counts)
		}
	})
}

func TestLoginThrottlingPerAddress(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("heidi", "heidi@example.com", "password1")
		// 20 failures spread over many unknown accounts block the address.
		for i := 0; i < 20; i++ {
			if r := e.login("ghost"+strconv.Itoa(i), "wrong-pass"); r.Status != 401 {
				t.Fatalf("failure %d: %d", i, r.Status)
			}
		}
		if r := e.login("heidi", "password1"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("address not throttled: %d", r.Status)
		}
		e.clock.Advance(2 * time.Second)
		if r := e.login("heidi", "password1"); r.Status != 200 {
			t.Fatalf("after release: %d", r.Status)
		}
	})
}

// Users imported from the Python system have passlib bcrypt hashes; the first login checks the
// first 72 bytes as bcrypt did, and rehashes to argon2id.
func TestBcryptImportAndRehash(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		long := "0123456789012345678901234567890123456789012345678901234567890123456789AB" // 72 bytes
		h, err := bcrypt.GenerateFromPassword([]byte(long), 4)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		u := store.User{ID: "00000000-0000-4000-8000-000000000001", Username: "legacy", Email: "legacy@example.com",
			PasswordHash: "$2b$" + string(h[4:]), Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := e.store.CreateUser(context.Background(), u, nil); err != nil {
			t.Fatal(err)
		}
		if r := e.login("legacy", long+"-anything-after-72-bytes"); r.Status != 200 {
			t.Fatalf("bcrypt login: %d %s", r.Status, r.Raw)
		}
		got, err := e.store.UserByID(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash[:10] != "$argon2id$" {
			t.Fatalf("not rehashed: %s", got.PasswordHash[:10])
		}
		// The argon2id hash is of the password as presented at that login: from now on the
		// whole password counts, not its first 72 bytes.
		if r := e.login("legacy", long+"-anything-after-72-bytes"); r.Status != 200 {
			t.Fatalf("login after rehash: %d", r.Status)
		}
		if r := e.login("legacy", long+"-something-else"); r.Status != 401 {
			t.Fatalf("72-byte prefix still accepted after rehash: %d", r.Status)
		}
		if r := e.login("legacy", "wrong-password"); r.Status != 401 {
			t.Fatalf("wrong after rehash: %d", r.Status)
		}
	})
}
