package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouting checks what dispatch leaves to mux's ServeHTTP (paths to clean, 404, 405) and
// what it takes itself (clean paths of routes, path variables).
func TestRouting(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		method, path string
		status       int
		location     string
	}{
		{http.MethodGet, "/whoami", http.StatusOK, ""},
		{http.MethodHead, "/healthz", http.StatusOK, ""},
		{http.MethodGet, "//whoami", http.StatusMovedPermanently, "/whoami"},
		{http.MethodGet, "/notes/../whoami", http.StatusMovedPermanently, "/whoami"},
		{http.MethodGet, "/notes/..", http.StatusMovedPermanently, "/"}, // matches /notes/{id} unless cleaned first
		{http.MethodGet, "/notes/.", http.StatusMovedPermanently, "/notes"},
		{http.MethodGet, "/whoami/", http.StatusNotFound, ""},
		{http.MethodGet, "/nowhere", http.StatusNotFound, ""},
		{http.MethodPost, "/whoami", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/notes/unknown", http.StatusNotFound, ""},
	}
	for _, tt := range cases {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, err := http.NewRequest(tt.method, h.srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer "+alice)
			resp, err := noRedirect.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Fatalf("status %d, Location %q; want %d, %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
		})
	}
	t.Run("path variable", func(t *testing.T) {
		created := h.do(t, req{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "t", "body": "b"}}).want(t, http.StatusCreated, "")
		id, _ := created.body["id"].(string)
		got := h.do(t, req{method: http.MethodGet, path: "/notes/" + id, token: alice}).want(t, http.StatusOK, "")
		if got.body["id"] != id {
			t.Fatalf("GET /notes/%s answered note %v", id, got.body["id"])
		}
	})
}

// TestUnauthorizedAsVerifierMiddleware holds the server's in-line token check to the answer
// of the verifier's Middleware, which it replaces on the access-token routes: same status,
// challenge, headers and body.
func TestUnauthorizedAsVerifierMiddleware(t *testing.T) {
	h := newHarness(t)
	mw := newVerifier(t, h.jwks.URL, nil).Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for name, token := range map[string]string{
		"missing": "", "garbage": "not-a-jwt", "forged": h.sign(t, h.forger, aliceID, "alice"),
		"sync token": h.token(t, aliceID, "alice", syncToken),
	} {
		t.Run(name, func(t *testing.T) {
			got := h.do(t, req{method: http.MethodGet, path: "/whoami", token: token})
			r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			mw.ServeHTTP(rec, r)
			want, _ := io.ReadAll(rec.Body)
			if got.status != rec.Code || got.raw != string(want) {
				t.Fatalf("server: %d %s\nverifier.Middleware: %d %s", got.status, got.raw, rec.Code, want)
			}
			for _, k := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control"} {
				if got.header.Get(k) != rec.Header().Get(k) {
					t.Errorf("%s = %q, verifier.Middleware's %q", k, got.header.Get(k), rec.Header().Get(k))
				}
			}
		})
	}
}
