package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/ui"
)

// Every page renders with the security headers, escapes what it shows, and labels its inputs.
func TestPagesRender(t *testing.T) {
	p, err := ui.New("Example <Co>")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	p.Render(w, http.StatusOK, "login", ui.View{Title: "Log in", CSRF: "tok", Error: `<script>alert(1)</script>`,
		Data: ui.LoginView{ClientName: "App", Carry: map[string]string{"state": `"><x`}}}, "https://app.example")
	body := w.Body.String()
	h := w.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", h)
	}
	for _, bad := range []string{"<script>", `"><x`, "Example <Co>"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	for _, id := range []string{"username", "password"} {
		if !strings.Contains(body, `<label for="`+id+`">`) || !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("input %s is not labelled", id)
		}
	}
	if !strings.Contains(body, `name="csrf" value="tok"`) {
		t.Error("the form carries no CSRF token")
	}
}

// The CSRF check passes only a form whose token is the cookie's.
func TestCSRF(t *testing.T) {
	c := ui.Cookies{Secure: true}
	w := httptest.NewRecorder()
	tok := c.CSRFToken(w, httptest.NewRequest(http.MethodGet, "/", nil))
	ck := w.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != "__Host-csrf" || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", ck)
	}
	post := func(form string, withCookie bool) bool {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withCookie {
			r.AddCookie(ck[0])
		}
		return c.CheckCSRF(r)
	}
	if !post("csrf="+url.QueryEscape(tok), true) {
		t.Error("the matching token was refused")
	}
	if post("csrf=other", true) || post("csrf="+url.QueryEscape(tok), false) || post("", true) {
		t.Error("a missing or different token was accepted")
	}
}
