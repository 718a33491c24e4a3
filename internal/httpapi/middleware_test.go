package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// The recovery answers a handler's panic with a 500 JSON without details, logs it with the
// request id, still runs Done, and passes http.ErrAbortHandler on.
func TestMiddlewareRecovers(t *testing.T) {
	var logs bytes.Buffer
	var done []int
	h := httpapi.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }),
		httpapi.Options[struct{}]{Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			Done: func(rq *httpapi.Request[struct{}], _ *http.Request, _ time.Duration) {
				done = append(done, rq.Status())
			}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	id := w.Header().Get("X-Request-Id")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "secret") ||
		w.Body.String() != `{"error":"server_error","error_description":"internal error"}`+"\n" || len(id) != 16 {
		t.Fatalf("panic answered %d %q (X-Request-Id %q)", w.Code, w.Body, id)
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) || !strings.Contains(logs.String(), id) {
		t.Errorf("log %q lacks the panic and its request id", logs.String())
	}
	if len(done) != 1 || done[0] != http.StatusInternalServerError {
		t.Errorf("Done saw %v, want [500]", done)
	}
	// A panic after the response started cannot change it: nothing more is written.
	h = httpapi.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}), httpapi.Options[struct{}]{})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusAccepted || w.Body.Len() != 0 {
		t.Errorf("late panic answered %d %q", w.Code, w.Body)
	}
}

func TestMiddlewareRepanicsErrAbortHandler(t *testing.T) {
	h := httpapi.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }),
		httpapi.Options[struct{}]{})
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler passed on", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	t.Fatal("http.ErrAbortHandler was swallowed")
}

// The request id is the client's when usable, else a fresh one; handlers and the error log
// see the same id the response carries.
func TestMiddlewareRequestID(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		keep       bool
	}{
		{"client's", "abc-123", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen, seenData string
			h := httpapi.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = httpapi.RequestID(r.Context())
				if rq, ok := httpapi.RequestFrom[int](r.Context()); ok {
					seenData = rq.ID
				}
			}), httpapi.Options[int]{})
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.sent != "" {
				r.Header.Set("X-Request-Id", tc.sent)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get("X-Request-Id")
			if tc.keep && got != tc.sent || !tc.keep && len(got) != 16 {
				t.Fatalf("X-Request-Id = %q (sent %q)", got, tc.sent)
			}
			if seen != got || seenData != got {
				t.Errorf("handler saw %q and %q, response has %q", seen, seenData, got)
			}
		})
	}
	if id := httpapi.RequestID(t.Context()); id != "" {
		t.Errorf("RequestID outside the middleware = %q", id)
	}
}

// Init, Before and Done run in order, the route set by a handler reaches Done, and the
// server's data rides in the one request state.
func TestMiddlewareHooks(t *testing.T) {
	type data struct{ calls []string }
	var got *httpapi.Request[data]
	h := httpapi.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, _ := httpapi.RequestFrom[data](r.Context())
		rq.Route = "/things/{id}"
		rq.Data.calls = append(rq.Data.calls, "handler")
		w.WriteHeader(http.StatusTeapot)
	}), httpapi.Options[data]{
		Init: func(rq *httpapi.Request[data]) { rq.Data.calls = append(rq.Data.calls, "init") },
		Before: func(w http.ResponseWriter, r *http.Request) bool {
			rq, _ := httpapi.RequestFrom[data](r.Context())
			rq.Data.calls = append(rq.Data.calls, "before")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return true
			}
			return false
		},
		Done: func(rq *httpapi.Request[data], _ *http.Request, _ time.Duration) { got = rq },
	})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/things/1", nil))
	if got == nil || got.Status() != http.StatusTeapot || got.Route != "/things/{id}" ||
		strings.Join(got.Data.calls, ",") != "init,before,handler" {
		t.Fatalf("Done saw %+v", got)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodOptions, "/things/1", nil))
	if got.Status() != http.StatusNoContent || got.Route != httpapi.RouteOther || strings.Join(got.Data.calls, ",") != "init,before" {
		t.Fatalf("answered by Before: Done saw %+v", got)
	}
}

// Bodies over 64 KiB get 413, announced or not.
func TestMiddlewareBodyLimit(t *testing.T) {
	errs := httpapi.NewErrors(nil)
	h := httpapi.Middleware(errs.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var v map[string]string
		if err := httpapi.DecodeJSON(r, &v); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}), httpapi.Options[struct{}]{Errors: errs})
	big := `{"a":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"small", `{"a":"b"}`, false, http.StatusNoContent},
		{"announced", big, false, http.StatusRequestEntityTooLarge},
		{"chunked", big, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("answered %d %q, want %d", w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusRequestEntityTooLarge && !strings.Contains(w.Body.String(), `"request_too_large"`) {
				t.Errorf("body %q", w.Body)
			}
		})
	}
}

func TestStatusRecorder(t *testing.T) {
	w := httptest.NewRecorder()
	rec := httpapi.NewStatusRecorder(w)
	if rec.Status() != http.StatusOK || rec.Written() {
		t.Fatalf("fresh recorder: %d %v", rec.Status(), rec.Written())
	}
	rec.WriteHeader(http.StatusCreated)
	rec.WriteHeader(http.StatusInternalServerError) // ignored, as net/http ignores it
	_, _ = rec.Write([]byte("x"))
	if rec.Status() != http.StatusCreated || !rec.Written() || rec.Unwrap() != w {
		t.Fatalf("recorder: %d %v", rec.Status(), rec.Written())
	}
}
