package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestNoServerErrorForClientInput throws hostile input at every endpoint: nothing a client
// sends may produce a 5xx.
func TestNoServerErrorForClientInput(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	tokens := []string{"", "a.b.c", strings.Repeat("A", 9000), "eyJ.eyJ.x", alice + "x", alice}
	bodies := []string{"", "null", "[]", `{"events": null}`, `{"events": [null]}`, `{"title": null}`,
		`{"access_token": null}`, strings.Repeat("[", 10000), `{"title": "\u0000"}`, "\xff\xfe"}
	routes := []struct{ method, path string }{
		{"GET", "/whoami"}, {"GET", "/me"}, {"GET", "/notes"}, {"POST", "/notes"}, {"GET", "/notes/%00"},
		{"DELETE", "/notes/" + strings.Repeat("x", 5000)}, {"GET", "/awesome_app"}, {"POST", "/sync/users"},
		{"PUT", "/sync_user"}, {"GET", "/readyz"},
	}
	sync := h.token(t, "", "", syncToken)
	for _, rt := range routes {
		for _, tok := range append(tokens, sync) {
			for _, b := range bodies {
				r := h.do(t, req{method: rt.method, path: rt.path, token: tok, body: b, contentType: "application/json"})
				if r.status >= 500 {
					t.Fatalf("%s %s (token %.20q, body %.20q): %d %s", rt.method, rt.path, tok, b, r.status, r.raw)
				}
			}
		}
	}
}

// TestFlowOnBothDatabases runs the main flow on SQLite and, with TEST_DATABASE_URL, PostgreSQL.
func TestFlowOnBothDatabases(t *testing.T) {
	testdb.Each(t, db.AppSchema, func(t *testing.T, d *db.DB) {
		h := newHarnessOn(t, d)
		alice := h.token(t, aliceID, "alice")
		h.do(t, req{method: http.MethodGet, path: "/me", token: alice}).want(t, http.StatusOK, "")
		h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "t", "body": "ü"}}).want(t, http.StatusCreated, "")
		r := h.sync(t, upsertEvent("e1", aliceID, 1, "alice1"), upsertEvent("e1", aliceID, 1, "alice1")).want(t, http.StatusOK, "")
		if r.body["applied"] != 1.0 || r.body["ignored"] != 1.0 {
			t.Fatalf("sync = %s", r.raw)
		}
		r = h.do(t, req{method: http.MethodGet, path: "/awesome_app", body: map[string]string{"access_token": alice, "msg": "x"}}).want(t, http.StatusOK, "")
		if r.body["accessed_user"] != "alice1" {
			t.Fatalf("awesome_app = %s", r.raw)
		}
		h.sync(t, deleteEvent("e2", aliceID, 2)).want(t, http.StatusOK, "")
		h.do(t, req{method: http.MethodGet, path: "/me", token: alice}).want(t, http.StatusNotFound, "not_found")
		if notes, err := h.store.Notes(t.Context(), aliceID); err != nil || len(notes) != 0 {
			t.Fatalf("notes after delete: %d, %v", len(notes), err)
		}
	})
}
