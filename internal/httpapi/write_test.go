package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

var (
	errStoreNotFound    = errors.New("store: not found")
	errStoreUnavailable = errors.New("store: database unavailable")
	errStoreCorrupt     = errors.New("store: secret corrupt row")
)

// Each server plugs its sentinel errors in with a table; anything unknown is a bare 500.
func TestErrorsWrite(t *testing.T) {
	throttled := &httpapi.Error{Status: http.StatusTooManyRequests, Code: "too_many_requests", Description: "slow down", RetryAfter: 1500 * time.Millisecond}
	unauthorized := &httpapi.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "bad token", Challenge: `Bearer error="invalid_token"`}
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		header     map[string]string
		logged     string // a log line's level, "" for none
		secretless bool
	}{
		{name: "api error", err: httpapi.BadRequest("invalid_username", "too short"), status: 400, code: "invalid_username"},
		{name: "wrapped api error", err: fmt.Errorf("signup: %w", httpapi.ErrNotFound), status: 404, code: "not_found"},
		{name: "retry after rounds up", err: throttled, status: 429, code: "too_many_requests", header: map[string]string{"Retry-After": "2"}},
		{name: "challenge", err: unauthorized, status: 401, code: "invalid_token",
			header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`, "Cache-Control": "no-store"}},
		{name: "mapped sentinel", err: fmt.Errorf("user 7: %w", errStoreNotFound), status: 404, code: "not_found"},
		{name: "mapped unavailable", err: fmt.Errorf("query: %w", errStoreUnavailable), status: 503, code: "temporarily_unavailable",
			header: map[string]string{"Retry-After": "2"}, logged: "WARN", secretless: true},
		{name: "deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), status: 503, code: "temporarily_unavailable", logged: "WARN", secretless: true},
		{name: "internal", err: errors.New("pq: secret detail"), status: 500, code: "server_error", logged: "ERROR", secretless: true},
		{name: "mapped internal", err: fmt.Errorf("query: %w", errStoreCorrupt), status: 500, code: "server_error", logged: "ERROR", secretless: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			errs := httpapi.NewErrors(slog.New(slog.NewJSONHandler(&logs, nil)), httpapi.Table(
				httpapi.Mapping{Err: errStoreNotFound, API: httpapi.ErrNotFound},
				httpapi.Mapping{Err: errStoreUnavailable, API: httpapi.ErrUnavailable},
				httpapi.Mapping{Err: errStoreCorrupt, API: httpapi.ErrInternal},
			))
			h := httpapi.Middleware(errs.Handle(func(http.ResponseWriter, *http.Request) error { return tc.err }),
				httpapi.Options[struct{}]{Errors: errs})
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.Header.Set("X-Request-Id", "req-42")
			h.ServeHTTP(w, r)
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 2 {
				t.Fatalf("body %q: want {error, error_description} (%v)", w.Body, err)
			}
			if w.Code != tc.status || body["error"] != tc.code || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("answered %d %q, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.secretless && (strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "query")) {
				t.Errorf("body %q shows internals", w.Body)
			}
			if tc.logged == "" && logs.Len() != 0 || tc.logged != "" && (!strings.Contains(logs.String(), `"level":"`+tc.logged+`"`) ||
				!strings.Contains(logs.String(), `"request_id":"req-42"`)) {
				t.Errorf("log %q, want a %q line with the request id", logs.String(), tc.logged)
			}
		})
	}
}

// A client that went away gets nothing, and nothing is logged as an error.
func TestErrorsWriteClientGone(t *testing.T) {
	var logs bytes.Buffer
	errs := httpapi.NewErrors(slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	errs.Write(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/x", nil), fmt.Errorf("query: %w", context.Canceled))
	if w.Body.Len() != 0 || logs.Len() != 0 {
		t.Fatalf("answered %d %q, logged %q: want nothing", w.Code, w.Body, logs.String())
	}
	// A Canceled of some other context, the request's being alive, is an internal error.
	w = httptest.NewRecorder()
	errs.Write(w, httptest.NewRequest(http.MethodGet, "/x", nil), fmt.Errorf("job: %w", context.Canceled))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("answered %d, want 500", w.Code)
	}
}
