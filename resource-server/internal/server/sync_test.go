package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

func upsertEvent(id, user string, version int64, name string) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeUpsert, OccurredAt: time.Now(),
		User: syncevent.User{ID: user, Username: name, Email: name + "@example.com", Version: version}}
}

func deleteEvent(id, user string, version int64) syncevent.Event {
	return syncevent.Event{ID: id, Type: syncevent.TypeDelete, OccurredAt: time.Now(),
		User: syncevent.User{ID: user, Version: version}}
}

// sync posts events to /sync/users with a good sync token.
func (h *harness) sync(t *testing.T, events ...syncevent.Event) response {
	t.Helper()
	body := syncevent.Batch{Events: events}
	return h.do(t, req{method: http.MethodPost, path: "/sync/users", token: h.token(t, "", "", syncToken, signs(t, body)), body: body})
}

func TestSyncAuth(t *testing.T) {
	h := newHarness(t)
	body := syncevent.Batch{Events: []syncevent.Event{upsertEvent("e1", aliceID, 1, "alice")}}
	tests := []struct {
		name    string
		token   string
		missing bool
	}{
		{"no token", "", true},
		{"user's access token", h.token(t, aliceID, "alice"), false},
		{"forged sync token", h.sign(t, h.forger, "", "", syncToken), false},
		{"sync type, access audience", h.token(t, "", "", syncToken, func(_ *string, c map[string]any) { c["aud"] = audience }), false},
		{"expired sync token", h.token(t, "", "", syncToken, signs(t, body), func(_ *string, c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), false},
		{"sync token without body hash", h.token(t, "", "", syncToken), false},
		{"sync token of another body", h.token(t, "", "", syncToken, signs(t, syncevent.Batch{Events: []syncevent.Event{}})), false},
	}
	for _, tt := range tests {
		for _, rt := range []struct{ method, path string }{{http.MethodPost, "/sync/users"}, {http.MethodPost, "/sync_user"}, {http.MethodPut, "/sync_user"}} {
			t.Run(tt.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				h.do(t, req{method: rt.method, path: rt.path, token: tt.token, body: body}).wantChallenge(t, tt.missing)
			})
		}
	}
	if _, err := h.store.User(t.Context(), aliceID); err == nil {
		t.Fatal("an unauthenticated sync created a user")
	}
}

func TestSyncApply(t *testing.T) {
	h := newHarness(t)
	batch := syncevent.Batch{Events: []syncevent.Event{upsertEvent("e1", aliceID, 1, "alice"), upsertEvent("e2", bobID, 1, "bob")}}
	tok := h.token(t, "", "", syncToken, signs(t, batch))
	empty := syncevent.Batch{Events: []syncevent.Event{}}
	wantCounts := func(t *testing.T, r response, applied, ignored float64) {
		t.Helper()
		r.want(t, http.StatusOK, "")
		if r.body["applied"] != applied || r.body["ignored"] != ignored {
			t.Fatalf("body = %s, want applied %v, ignored %v", r.raw, applied, ignored)
		}
	}
	wantCounts(t, h.do(t, req{method: http.MethodPost, path: "/sync/users", token: tok, body: batch}), 2, 0)
	// The same batch again, on the seed's path and method: nothing changes.
	wantCounts(t, h.do(t, req{method: http.MethodPut, path: "/sync_user", token: tok, body: batch}), 0, 2)
	wantCounts(t, h.do(t, req{method: http.MethodPost, path: "/sync_user", token: h.token(t, "", "", syncToken, signs(t, empty)), body: empty}), 0, 0)
	// A delete, then an older upsert arriving late: the tombstone holds.
	wantCounts(t, h.sync(t, deleteEvent("e3", bobID, 3), upsertEvent("e4", bobID, 2, "bob2")), 1, 1)
	if u, err := h.store.User(t.Context(), bobID); err != nil || !u.Deleted || u.Version != 3 {
		t.Fatalf("bob = %+v, %v; want a tombstone at version 3", u, err)
	}

	bad := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"malformed", `{"events": [`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"no events", `{}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"seed body", `{"username": "alice", "email": "a@example.com"}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"unknown type", `{"events": [{"id": "x", "type": "user.nuke", "user": {"id": "u", "version": 1}}]}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"version not a number", `{"events": [{"id": "x", "type": "user.upsert", "user": {"id": "u", "version": "1"}}]}`, "application/json", http.StatusBadRequest, "invalid_request"},
		{"text/plain", `{"events": []}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tok := h.token(t, "", "", syncToken, signs(t, tt.body))
			h.do(t, req{method: http.MethodPost, path: "/sync/users", token: tok, body: tt.body, contentType: tt.contentType}).want(t, tt.status, tt.code)
		})
	}
	h.do(t, req{method: http.MethodGet, path: "/sync/users", token: tok}).want(t, http.StatusMethodNotAllowed, "method_not_allowed")
}
