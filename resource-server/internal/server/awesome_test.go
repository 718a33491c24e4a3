package server_test

import (
	"net/http"
	"testing"
)

func TestAwesomeApp(t *testing.T) {
	h := newHarness(t)
	alice := h.token(t, aliceID, "alice")
	want := func(t *testing.T, r response, user string) {
		t.Helper()
		r.want(t, http.StatusOK, "")
		if r.body["accessed_user"] != user || r.body["msg"] != "You accessed!!!" || len(r.body) != 2 {
			t.Fatalf("body = %s, want {accessed_user: %s, msg: You accessed!!!}", r.raw, user)
		}
	}
	t.Run("seed JSON body", func(t *testing.T) {
		// As the Python system's clients call it: GET, a JSON body, no Authorization header.
		want(t, h.do(t, req{method: http.MethodGet, path: "/awesome_app", body: map[string]string{"access_token": alice, "msg": "hi"}}), "alice")
		if _, err := h.store.User(t.Context(), aliceID); err != nil {
			t.Fatalf("app user row after /awesome_app: %v", err)
		}
	})
	t.Run("bearer", func(t *testing.T) {
		want(t, h.do(t, req{method: http.MethodGet, path: "/awesome_app", token: alice}), "alice")
	})
	t.Run("body without content type", func(t *testing.T) {
		want(t, h.do(t, req{method: http.MethodGet, path: "/awesome_app", body: []byte(`{"access_token":"` + alice + `"}`)}), "alice")
	})
	t.Run("reads the app database", func(t *testing.T) {
		// The synced username wins over the (older) token's claim.
		h.sync(t, upsertEvent("e1", aliceID, 1, "alice.synced")).want(t, http.StatusOK, "")
		want(t, h.do(t, req{method: http.MethodGet, path: "/awesome_app", token: alice}), "alice.synced")
	})
	errs := []struct {
		name        string
		rq          req
		status      int
		code        string
		missing     bool
		challengeOK bool
	}{
		{"no token, no body", req{}, http.StatusUnauthorized, "invalid_token", true, true},
		{"body without token", req{body: map[string]string{"msg": "hi"}}, http.StatusUnauthorized, "invalid_token", true, true},
		{"bad token in body", req{body: map[string]string{"access_token": "junk"}}, http.StatusUnauthorized, "invalid_token", false, true},
		{"forged token in body", req{body: map[string]string{"access_token": h.sign(t, h.forger, aliceID, "alice")}}, http.StatusUnauthorized, "invalid_token", false, true},
		{"bad bearer", req{token: "junk"}, http.StatusUnauthorized, "invalid_token", false, true},
		{"malformed body", req{body: `{"access_token": `, contentType: "application/json"}, http.StatusBadRequest, "invalid_request", false, false},
		{"token not a string", req{body: `{"access_token": 1}`, contentType: "application/json"}, http.StatusBadRequest, "invalid_request", false, false},
		{"text body", req{body: "token", contentType: "text/plain"}, http.StatusUnsupportedMediaType, "unsupported_media_type", false, false},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			tt.rq.method, tt.rq.path = http.MethodGet, "/awesome_app"
			r := h.do(t, tt.rq)
			if tt.challengeOK {
				r.wantChallenge(t, tt.missing)
			} else {
				r.want(t, tt.status, tt.code)
			}
		})
	}
	t.Run("deleted user", func(t *testing.T) {
		h.sync(t, deleteEvent("e2", aliceID, 2)).want(t, http.StatusOK, "")
		h.do(t, req{method: http.MethodGet, path: "/awesome_app", token: alice}).want(t, http.StatusNotFound, "not_found")
	})
}
