package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/resource-server/internal/appstore"
	"github.com/jwtauth/jwtauth/resource-server/internal/server"
)

func TestHealth(t *testing.T) {
	h := newHarness(t)
	h.do(t, req{method: http.MethodGet, path: "/healthz"}).want(t, http.StatusOK, "")
	h.do(t, req{method: http.MethodGet, path: "/readyz"}).want(t, http.StatusOK, "")
	h.do(t, req{method: http.MethodGet, path: "/nowhere"}).want(t, http.StatusNotFound, "not_found")
	h.do(t, req{method: http.MethodPatch, path: "/me"}).want(t, http.StatusMethodNotAllowed, "method_not_allowed")

	// The database goes away: ready says so, data endpoints answer a clean 503.
	alice := h.token(t, aliceID, "alice")
	_ = h.db.Close()
	r := h.do(t, req{method: http.MethodGet, path: "/readyz"}).want(t, http.StatusServiceUnavailable, "")
	if checks, _ := r.body["checks"].(map[string]any); checks["database"] != "unavailable" || checks["keys"] != "ok" {
		t.Fatalf("readyz = %s", r.raw)
	}
	for _, rq := range []req{
		{method: http.MethodGet, path: "/me", token: alice},
		{method: http.MethodGet, path: "/notes", token: alice},
		{method: http.MethodPost, path: "/notes", token: alice, body: map[string]string{"title": "t"}},
		{method: http.MethodGet, path: "/awesome_app", body: map[string]string{"access_token": alice}},
		{method: http.MethodPost, path: "/sync/users", token: h.token(t, "", "", syncToken, signs(t, map[string]any{"events": []any{}})), body: map[string]any{"events": []any{}}},
	} {
		r := h.do(t, rq).want(t, http.StatusServiceUnavailable, "temporarily_unavailable")
		if r.header.Get("Retry-After") == "" || strings.Contains(r.raw, "closed") {
			t.Fatalf("%s %s: 503 = %s (Retry-After %q)", rq.method, rq.path, r.raw, r.header.Get("Retry-After"))
		}
	}
}

func TestKeysNotLoaded(t *testing.T) {
	// The auth server is down from the start: not ready, and tokens are refused with 401, never
	// a 5xx.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	v := newVerifier(t, down.URL, nil)
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AppSchema)
	h := &harness{key: newKey(t), db: d}
	h.srv = httptest.NewServer(server.New(server.Deps{Store: appstore.New(d, time.Now), Verifier: v}))
	t.Cleanup(h.srv.Close)
	r := h.do(t, req{method: http.MethodGet, path: "/readyz"}).want(t, http.StatusServiceUnavailable, "")
	if checks, _ := r.body["checks"].(map[string]any); checks["keys"] != "not loaded" {
		t.Fatalf("readyz = %s", r.raw)
	}
	h.do(t, req{method: http.MethodGet, path: "/whoami", token: h.token(t, aliceID, "alice")}).wantChallenge(t, false)
	h.do(t, req{method: http.MethodGet, path: "/awesome_app", token: h.token(t, aliceID, "alice")}).wantChallenge(t, false)
	h.do(t, req{method: http.MethodGet, path: "/metrics"}).want(t, http.StatusNotFound, "not_found")
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	for range 3 {
		h.do(t, req{method: http.MethodGet, path: "/whoami", token: alice}).want(t, http.StatusOK, "")
	}
	h.do(t, req{method: http.MethodGet, path: "/notes/abc", token: alice}).want(t, http.StatusNotFound, "")
	h.do(t, req{method: "BREW", path: "/whoami"})
	r := h.do(t, req{method: http.MethodGet, path: "/metrics"})
	for _, want := range []string{
		`resource_http_requests_total{method="GET",route="/whoami",status="200"} 3`,
		`resource_http_requests_total{method="GET",route="/notes/{id}",status="404"} 1`,
		`resource_http_requests_total{method="other",route="other",status="405"} 1`,
		`resource_http_request_duration_seconds_count{route="/whoami"} 3`,
		`resource_token_cache_total{result="hit"} 3`,
		`resource_token_cache_total{result="miss"} 1`,
		`resource_jwks_refreshes_total{result="ok"} 1`,
	} {
		if !strings.Contains(r.raw, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
