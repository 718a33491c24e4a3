package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPanicAnswered500 checks the middleware's recovery: a handler's panic is a 500 JSON
// without details, with the request id, and http.ErrAbortHandler is passed on so net/http
// aborts the response.
func TestPanicAnswered500(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") ||
		rec.Body.String() != `{"error":"server_error","error_description":"internal error"}`+"\n" ||
		rec.Header().Get("Content-Type") != "application/json" || len(rec.Header().Get("X-Request-Id")) != 16 {
		t.Fatalf("panic answered %d %q (X-Request-Id %q)", rec.Code, rec.Body, rec.Header().Get("X-Request-Id"))
	}
	abort := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler passed on", p)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	t.Fatal("http.ErrAbortHandler was swallowed")
}
