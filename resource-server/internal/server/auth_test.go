package server_test

import (
	"net/http"
	"testing"
	"time"
)

// protected are the routes that need an access token.
var protected = []struct{ method, path string }{
	{http.MethodGet, "/whoami"}, {http.MethodGet, "/me"}, {http.MethodGet, "/notes"},
	{http.MethodPost, "/notes"}, {http.MethodGet, "/notes/x"}, {http.MethodDelete, "/notes/x"},
}

func TestUnauthorized(t *testing.T) {
	h := newHarness(t)
	tokens := []struct {
		name    string
		token   string
		missing bool
	}{
		{"no token", "", true},
		{"garbage", "not-a-jwt", false},
		{"expired", h.token(t, aliceID, "alice", func(_ *string, c map[string]any) {
			c["exp"], c["iat"], c["nbf"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
		}), false},
		{"wrong audience", h.token(t, aliceID, "alice", func(_ *string, c map[string]any) { c["aud"] = "other" }), false},
		{"wrong issuer", h.token(t, aliceID, "alice", func(_ *string, c map[string]any) { c["iss"] = "https://evil.test" }), false},
		{"forged signature", h.sign(t, h.forger, aliceID, "alice"), false},
		{"sync token", h.token(t, aliceID, "alice", syncToken), false},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.", false},
	}
	for _, tk := range tokens {
		for _, p := range protected {
			t.Run(tk.name+" "+p.method+" "+p.path, func(t *testing.T) {
				h.do(t, req{method: p.method, path: p.path, token: tk.token, body: map[string]string{"title": "t"}}).wantChallenge(t, tk.missing)
			})
		}
	}
	t.Run("other scheme", func(t *testing.T) {
		h.do(t, req{method: http.MethodGet, path: "/whoami", header: http.Header{"Authorization": {"Basic YTpi"}}}).wantChallenge(t, true)
	})
}

func TestWhoami(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, req{method: http.MethodGet, path: "/whoami", token: h.token(t, aliceID, "alice")}).want(t, http.StatusOK, "")
	for k, want := range map[string]any{"sub": aliceID, "iss": issuer, "preferred_username": "alice",
		"email": "alice@example.com", "sid": "s-" + aliceID, "alg": "ES256", "kid": "k1", "typ": "at+jwt"} {
		if r.body[k] != want {
			t.Errorf("%s = %v, want %v", k, r.body[k], want)
		}
	}
	// It touches no database: it still answers with the database gone.
	_ = h.db.Close()
	h.do(t, req{method: http.MethodGet, path: "/whoami", token: h.token(t, aliceID, "alice")}).want(t, http.StatusOK, "")
}

func TestMe(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	r := h.do(t, req{method: http.MethodGet, path: "/me", token: alice}).want(t, http.StatusOK, "")
	if r.body["id"] != aliceID || r.body["username"] != "alice" || r.body["email"] != "alice@example.com" || r.body["version"] != 0.0 {
		t.Fatalf("/me before sync = %s, want alice at version 0 from the claims", r.raw)
	}
	// A synced version 1 overwrites the row made from the claims; /me shows the app's record.
	h.sync(t, upsertEvent("e1", aliceID, 1, "alice.renamed")).want(t, http.StatusOK, "")
	r = h.do(t, req{method: http.MethodGet, path: "/me", token: alice}).want(t, http.StatusOK, "")
	if r.body["username"] != "alice.renamed" || r.body["version"] != 1.0 {
		t.Fatalf("/me after sync = %s, want alice.renamed at version 1", r.raw)
	}
	// Deleted by sync: a still-valid token gets 404 and does not recreate the user.
	h.sync(t, deleteEvent("e2", aliceID, 2)).want(t, http.StatusOK, "")
	for range 2 {
		h.do(t, req{method: http.MethodGet, path: "/me", token: alice}).want(t, http.StatusNotFound, "not_found")
	}
	if u, err := h.store.User(t.Context(), aliceID); err != nil || !u.Deleted {
		t.Fatalf("tombstone = %+v, %v; want deleted", u, err)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t)
	r := h.do(t, req{method: http.MethodGet, path: "/healthz", header: http.Header{"X-Request-Id": {"abc-123"}}})
	if got := r.header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id = %q, want the client's", got)
	}
	if got := h.do(t, req{method: http.MethodGet, path: "/healthz"}).header.Get("X-Request-Id"); len(got) != 16 {
		t.Fatalf("generated X-Request-Id = %q, want 16 hex characters", got)
	}
}
