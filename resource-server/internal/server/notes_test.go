package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestNotes(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.token(t, aliceID, "alice"), h.token(t, bobID, "bob")
	r := h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "Groceries", "body": "milk"}}).want(t, http.StatusCreated, "")
	id, _ := r.body["id"].(string)
	if id == "" || r.body["title"] != "Groceries" || r.body["body"] != "milk" || r.body["created_at"] == nil {
		t.Fatalf("created note = %s", r.raw)
	}
	if got := r.header.Get("Location"); got != "/notes/"+id {
		t.Fatalf("Location = %q", got)
	}
	h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "Second"}}).want(t, http.StatusCreated, "")

	r = h.do(t, req{method: http.MethodGet, path: "/notes", token: alice}).want(t, http.StatusOK, "")
	if notes, _ := r.body["notes"].([]any); len(notes) != 2 {
		t.Fatalf("alice's notes = %s, want 2", r.raw)
	}
	r = h.do(t, req{method: http.MethodGet, path: "/notes", token: bob}).want(t, http.StatusOK, "")
	if notes, ok := r.body["notes"].([]any); !ok || len(notes) != 0 {
		t.Fatalf("bob's notes = %s, want an empty list", r.raw)
	}
	r = h.do(t, req{method: http.MethodGet, path: "/notes/" + id, token: alice}).want(t, http.StatusOK, "")
	if r.body["id"] != id || r.body["title"] != "Groceries" {
		t.Fatalf("GET note = %s", r.raw)
	}
	// Another user's note does not exist for bob.
	h.do(t, req{method: http.MethodGet, path: "/notes/" + id, token: bob}).want(t, http.StatusNotFound, "not_found")
	h.do(t, req{method: http.MethodDelete, path: "/notes/" + id, token: bob}).want(t, http.StatusNotFound, "not_found")
	h.do(t, req{method: http.MethodDelete, path: "/notes/" + id, token: alice}).want(t, http.StatusNoContent, "")
	h.do(t, req{method: http.MethodGet, path: "/notes/" + id, token: alice}).want(t, http.StatusNotFound, "not_found")
	h.do(t, req{method: http.MethodDelete, path: "/notes/" + id, token: alice}).want(t, http.StatusNotFound, "not_found")
	// The note made alice's app user from her claims.
	if u, err := h.store.User(t.Context(), aliceID); err != nil || u.Username != "alice" {
		t.Fatalf("user made for the note = %+v, %v", u, err)
	}
	// After a sync delete, her notes are gone and she cannot add more.
	h.sync(t, deleteEvent("d1", aliceID, 1)).want(t, http.StatusOK, "")
	r = h.do(t, req{method: http.MethodGet, path: "/notes", token: alice}).want(t, http.StatusOK, "")
	if notes, _ := r.body["notes"].([]any); len(notes) != 0 {
		t.Fatalf("notes of a deleted user = %s", r.raw)
	}
	h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "x"}}).want(t, http.StatusNotFound, "not_found")
}

func TestNoteValidation(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	tests := []struct {
		name        string
		body        any
		contentType string
		status      int
		code        string
	}{
		{"title 200", map[string]string{"title": strings.Repeat("é", 200)}, "", http.StatusCreated, ""},
		{"body 10000", map[string]string{"title": "t", "body": strings.Repeat("b", 10000)}, "", http.StatusCreated, ""},
		{"content type with charset", `{"title":"t"}`, "application/json; charset=utf-8", http.StatusCreated, ""},
		{"no title", map[string]string{"body": "b"}, "", http.StatusBadRequest, "invalid_request"},
		{"blank title", map[string]string{"title": "  \t"}, "", http.StatusBadRequest, "invalid_request"},
		{"title 201", map[string]string{"title": strings.Repeat("t", 201)}, "", http.StatusBadRequest, "invalid_request"},
		{"body 10001", map[string]string{"title": "t", "body": strings.Repeat("b", 10001)}, "", http.StatusBadRequest, "invalid_request"},
		{"NUL", map[string]string{"title": "a\x00b"}, "", http.StatusBadRequest, "invalid_request"},
		{"title not a string", `{"title": 5}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"malformed", `{"title": `, "application/json", http.StatusBadRequest, "invalid_request"},
		{"two values", `{"title":"a"}{"title":"b"}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"empty body", "", "application/json", http.StatusBadRequest, "invalid_request"},
		{"array", `[]`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"text/plain", `{"title":"t"}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"form", "title=t", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", []byte(`{"title":"t"}`), "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"over 64 KiB", map[string]string{"title": "t", "body": strings.Repeat("b", 70<<10)}, "", http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: tt.body, contentType: tt.contentType}).want(t, tt.status, tt.code)
		})
	}
}

func TestBodyLimitWithoutContentLength(t *testing.T) {
	h := newHarness(t)
	// A reader of unknown length makes the client send the body chunked.
	body := io.MultiReader(strings.NewReader(`{"title":"t","body":"` + strings.Repeat("b", 70<<10) + `"}`))
	r, err := http.NewRequest(http.MethodPost, h.srv.URL+"/notes", body)
	if err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != 0 {
		t.Fatalf("request has a Content-Length %d", r.ContentLength)
	}
	r.Header.Set("Authorization", "Bearer "+h.token(t, aliceID, "alice"))
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", resp.StatusCode)
	}
}
