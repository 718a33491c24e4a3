package httpapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

// bodyRequest is a POST of body with content type ct, limited as the middleware limits it.
func bodyRequest(t testing.TB, ct, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, httpapi.MaxBody)
	return r
}

// apiStatus is the status and code of err as an *httpapi.Error (0 and "" for nil).
func apiStatus(t testing.TB, err error) (int, string) {
	t.Helper()
	if err == nil {
		return 0, ""
	}
	var ae *httpapi.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *httpapi.Error", err)
	}
	return ae.Status, ae.Code
}

func TestDecodeJSON(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, tc := range []struct {
		name, ct, body string
		status         int
		code, desc     string
	}{
		{"object", "application/json", `{"a":"b"}`, 0, "", ""},
		{"charset", "application/json; charset=utf-8", `{"a":"b"}`, 0, "", ""},
		{"trailing value", "application/json", `{"a":"b"} {"a":"c"}`, 400, "invalid_request", "more than one value"},
		{"trailing garbage", "application/json", `{"a":"b"} x`, 400, "invalid_request", "malformed JSON body"},
		{"malformed", "application/json", `{"a":`, 400, "invalid_request", "malformed JSON body"},
		{"wrong type", "application/json", `{"a":1}`, 400, "invalid_request", "field a has the wrong type"},
		{"empty", "application/json", ``, 400, "invalid_request", "empty body"},
		{"text", "text/plain", `{"a":"b"}`, 415, "unsupported_media_type", ""},
		{"no content type", "", `{"a":"b"}`, 415, "unsupported_media_type", ""},
		{"form", "application/x-www-form-urlencoded", `a=b`, 415, "unsupported_media_type", ""},
		{"over 64 KiB", "application/json", big, 413, "request_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				A string `json:"a"`
			}
			err := httpapi.DecodeJSON(bodyRequest(t, tc.ct, tc.body), &v)
			status, code := apiStatus(t, err)
			if status != tc.status || code != tc.code {
				t.Fatalf("DecodeJSON = %v, want %d %s", err, tc.status, tc.code)
			}
			if err != nil && !strings.Contains(err.Error(), tc.desc) {
				t.Errorf("description %q lacks %q", err, tc.desc)
			}
			if err == nil && v.A != "b" {
				t.Errorf("decoded %+v", v)
			}
		})
	}
}

func TestDecodeJSONBodyEmptyIsEOF(t *testing.T) {
	var v struct{}
	if err := httpapi.DecodeJSONBody(bodyRequest(t, "", ""), &v); !errors.Is(err, io.EOF) {
		t.Fatalf("empty body: %v, want io.EOF", err)
	}
	if err := httpapi.DecodeJSONBody(bodyRequest(t, "", `{} {}`), &v); err == nil {
		t.Fatal("trailing value accepted")
	}
}

func TestDecodeParams(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		status         int
		want           string // the "a" parameter
	}{
		{"form", "application/x-www-form-urlencoded", "a=b&c=d", 0, "b"},
		{"json", "application/json", `{"a":"b","c":true,"d":null}`, 0, "b"},
		{"json trailing", "application/json", `{"a":"b"}{"a":"c"}`, 400, ""},
		{"json number", "application/json", `{"a":1}`, 400, ""},
		{"json malformed", "application/json", `{"a":`, 400, ""},
		{"malformed form", "application/x-www-form-urlencoded", "a=%zz", 400, ""},
		{"text", "text/plain", "a=b", 415, ""},
		{"form over 64 KiB", "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", 70<<10), 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := httpapi.DecodeParams(bodyRequest(t, tc.ct, tc.body))
			if status, _ := apiStatus(t, err); status != tc.status {
				t.Fatalf("DecodeParams = %v, want status %d", err, tc.status)
			}
			if got := p.Get("a"); got != tc.want {
				t.Errorf("a = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEncodeAndNoStore(t *testing.T) {
	w := httptest.NewRecorder()
	httpapi.NoStore(w)
	httpapi.Encode(w, http.StatusCreated, map[string]string{"a": "<b>"})
	if w.Code != http.StatusCreated || w.Body.String() != "{\"a\":\"\\u003cb\\u003e\"}\n" ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" ||
		w.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("%d %q %v", w.Code, w.Body, w.Header())
	}
}
