package server_test

import (
	"net/http"
	"testing"
)

// withScope gives a token the scope claim s ("" removes it).
func withScope(s string) edit {
	return func(_ *string, c map[string]any) {
		if s == "" {
			c["scope"] = nil
			return
		}
		c["scope"] = s
	}
}

// The notes endpoints need notes:read or notes:write; a token without it gets 403
// insufficient_scope with the RFC 6750 §3.1 challenge naming the scope, and changes nothing.
func TestNotesScopes(t *testing.T) {
	h := newHarness(t)
	full := h.token(t, aliceID, "alice")
	id, _ := h.do(t, req{method: http.MethodPost, path: "/notes", token: full, body: map[string]string{"title": "kept"}}).want(t, http.StatusCreated, "").body["id"].(string)
	reader := h.token(t, aliceID, "alice", withScope("openid notes:read"))
	writer := h.token(t, aliceID, "alice", withScope("notes:write"))
	none := h.token(t, aliceID, "alice", withScope(""))
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		scope                     string // the challenge's scope when refused
	}{
		{"reader lists", http.MethodGet, "/notes", reader, nil, 200, ""},
		{"reader reads one", http.MethodGet, "/notes/" + id, reader, nil, 200, ""},
		{"reader cannot post", http.MethodPost, "/notes", reader, map[string]string{"title": "no"}, 403, "notes:write"},
		{"reader cannot delete", http.MethodDelete, "/notes/" + id, reader, nil, 403, "notes:write"},
		{"writer cannot list", http.MethodGet, "/notes", writer, nil, 403, "notes:read"},
		{"no scope cannot read", http.MethodGet, "/notes/" + id, none, nil, 403, "notes:read"},
		{"no scope still has whoami", http.MethodGet, "/whoami", none, nil, 200, ""},
		{"no scope still has me", http.MethodGet, "/me", none, nil, 200, ""},
		{"writer posts", http.MethodPost, "/notes", writer, map[string]string{"title": "yes"}, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(t, req{method: tc.method, path: tc.path, token: tc.token, body: tc.body})
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.raw, tc.status)
			}
			if tc.scope != "" {
				want := `Bearer error="insufficient_scope", scope="` + tc.scope + `"`
				if got := r.header.Get("WWW-Authenticate"); got != want || r.body["error"] != "insufficient_scope" {
					t.Errorf("challenge %q body %s, want %q", got, r.raw, want)
				}
			}
		})
	}
	// The refused delete changed nothing.
	h.do(t, req{method: http.MethodGet, path: "/notes/" + id, token: full}).want(t, http.StatusOK, "")
}

// A client's own token (client_credentials: sub = client_id, no sid) verifies, and speaks for
// no user: /me makes none up.
func TestClientToken(t *testing.T) {
	h := newHarness(t)
	const client = "6f1c2b1e-8f7e-4a51-9d0e-3d2b1c0a9f8e"
	tok := h.token(t, client, "", func(_ *string, c map[string]any) {
		c["client_id"], c["sid"], c["preferred_username"], c["email"], c["scope"] = client, nil, nil, nil, "notes:read"
	})
	r := h.do(t, req{method: http.MethodGet, path: "/whoami", token: tok}).want(t, http.StatusOK, "")
	if r.body["sub"] != client || r.body["client_id"] != client {
		t.Errorf("whoami = %s", r.raw)
	}
	h.do(t, req{method: http.MethodGet, path: "/me", token: tok}).want(t, http.StatusNotFound, "not_found")
	if _, err := h.store.User(t.Context(), client); err == nil {
		t.Error("an app user was made for a client")
	}
	// Without client_id = sub, a token without sid is refused as before.
	bad := h.token(t, aliceID, "alice", func(_ *string, c map[string]any) { c["sid"] = nil })
	h.do(t, req{method: http.MethodGet, path: "/whoami", token: bad}).want(t, http.StatusUnauthorized, "invalid_token")
}
