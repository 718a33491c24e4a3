package verifier

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	v := startVerifier(t, f.config())
	down := newJWKSServer(t)
	down.down.Store(true)
	cfgDown := f.config()
	cfgDown.JWKSURL = down.URL
	vDown := startVerifier(t, cfgDown)

	valid := f.mint(t, f.es, nil)
	expired := f.mint(t, f.es, setClaim("exp", f.clock.Now().Add(-time.Hour).Unix()))
	hostileKid := f.mint(t, f.gho, setHeader("kid", "\"\r\nX-Evil: 1"))
	const bare = "Bearer"
	challenge := func(d string) string { return `Bearer error="invalid_token", error_description="` + d + `"` }

	cases := []struct {
		name      string
		v         *Verifier
		auth      []string
		status    int
		challenge string
		desc      string
	}{
		{"valid", v, []string{"Bearer " + valid}, http.StatusOK, "", ""},
		{"scheme lower case", v, []string{"bearer " + valid}, http.StatusOK, "", ""},
		{"scheme upper case", v, []string{"BEARER " + valid}, http.StatusOK, "", ""},
		{"no header", v, nil, http.StatusUnauthorized, bare, "missing bearer token"},
		{"basic scheme", v, []string{"Basic dXNlcjpwYXNz"}, http.StatusUnauthorized, bare, "missing bearer token"},
		{"empty bearer", v, []string{"Bearer "}, http.StatusUnauthorized, bare, "missing bearer token"},
		{"two headers", v, []string{"Bearer " + valid, "Bearer " + valid}, http.StatusUnauthorized, bare, "missing bearer token"},
		{"garbage", v, []string{"Bearer x.y"}, http.StatusUnauthorized, challenge("malformed token"), "malformed token"},
		{"expired", v, []string{"Bearer " + expired}, http.StatusUnauthorized, challenge("token expired"), "token expired"},
		{"hostile kid", v, []string{"Bearer " + hostileKid}, http.StatusUnauthorized, challenge("unknown signing key"), "unknown signing key"},
		{"keys never loaded", vDown, []string{"Bearer " + valid}, http.StatusUnauthorized, challenge("signing keys unavailable"), "signing keys unavailable"},
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok || c.Subject != testSubject {
			t.Errorf("handler claims = %+v, %v", c, ok)
		}
		w.WriteHeader(http.StatusOK)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			tc.v.Middleware(next).ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.status == http.StatusOK {
				return
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			if body["error"] != "invalid_token" || body["error_description"] != tc.desc {
				t.Errorf("body = %v, want invalid_token / %q", body, tc.desc)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"bEaReR  abc ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer a b", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, ok := BearerToken(r)
			if got != tc.want || ok != tc.ok {
				t.Errorf("BearerToken = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestClaimsFromEmptyContext(t *testing.T) {
	if c, ok := ClaimsFrom(context.Background()); ok || c != nil {
		t.Fatalf("ClaimsFrom(empty) = %v, %v", c, ok)
	}
}
