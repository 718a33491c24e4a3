// Package httpapitest holds the checks every server built on httpapi runs against its own
// middleware wiring, so each server proves the shared behaviour with one call.
package httpapitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// CheckRecovery checks the recovery of the middleware wrap builds: a handler's panic is
// answered as a 500 JSON {"error":"server_error"} without its details and with a 16-character
// X-Request-Id, and http.ErrAbortHandler is re-panicked, so net/http aborts the response.
func CheckRecovery(t *testing.T, wrap func(http.Handler) http.Handler) {
	t.Helper()
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") ||
		rec.Body.String() != `{"error":"server_error","error_description":"internal error"}`+"\n" ||
		rec.Header().Get("Content-Type") != "application/json" || len(rec.Header().Get("X-Request-Id")) != 16 {
		t.Errorf("panic answered %d %q (X-Request-Id %q)", rec.Code, rec.Body, rec.Header().Get("X-Request-Id"))
	}
	if p := abort(wrap); p != http.ErrAbortHandler {
		t.Errorf("recovered %v, want http.ErrAbortHandler passed on", p)
	}
}

// abort serves a request whose handler panics with http.ErrAbortHandler through the
// middleware wrap builds, and returns what came out of it.
func abort(wrap func(http.Handler) http.Handler) (p any) {
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() { p = recover() }()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	return nil
}
