package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

func TestHealth(t *testing.T) {
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("down") }
	for _, tc := range []struct {
		name   string
		h      http.Handler
		status int
		want   string
	}{
		{"healthz", httpapi.Healthz(), 200, `{"status":"ok"}`},
		{"ready", httpapi.Readyz(httpapi.Check{Name: "database", Probe: up}, httpapi.Check{Name: "keys", Probe: up}),
			200, `{"checks":{"database":"ok","keys":"ok"},"status":"ok"}`},
		{"one down", httpapi.Readyz(httpapi.Check{Name: "database", Probe: down}, httpapi.Check{Name: "keys", Probe: up}),
			503, `{"checks":{"database":"unavailable","keys":"ok"},"status":"unavailable"}`},
		{"own word", httpapi.Readyz(httpapi.Check{Name: "database", Probe: up}, httpapi.Check{Name: "keys", Down: "not loaded", Probe: down}),
			503, `{"checks":{"database":"ok","keys":"not loaded"},"status":"unavailable"}`},
		{"deadline", httpapi.Readyz(httpapi.Check{Name: "database", Probe: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		}}), 200, `{"checks":{"database":"ok"},"status":"ok"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			var got, want any
			_ = json.Unmarshal(w.Body.Bytes(), &got)
			_ = json.Unmarshal([]byte(tc.want), &want)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if w.Code != tc.status || string(gb) != string(wb) {
				t.Fatalf("answered %d %s, want %d %s", w.Code, w.Body, tc.status, tc.want)
			}
		})
	}
}
