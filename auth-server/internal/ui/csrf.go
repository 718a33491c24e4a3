package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
)

// CSRF protection by double submit: a random token in a cookie (HttpOnly, SameSite=Lax,
// __Host- prefixed over HTTPS so no other site or subdomain can set it) and the same token in
// every form; a post whose form field differs from its cookie is refused. Cross-site pages can
// neither read the cookie nor set it, so they cannot make a matching form.

// FormField is the name of the CSRF field of every form.
const FormField = "csrf"

// Cookies names and sets the hosted pages' cookies: __Host- prefixed and Secure when the
// server is reached over HTTPS (its issuer is https), plain otherwise (make run on localhost).
type Cookies struct{ Secure bool }

func (c Cookies) name(base string) string {
	if c.Secure {
		return "__Host-" + base
	}
	return base
}

// CSRFToken returns the request's CSRF token, setting a new cookie when it has none.
func (c Cookies) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.name("csrf")); err == nil && len(ck.Value) >= 20 {
		return ck.Value
	}
	tok := rand.Text()
	c.set(w, "csrf", tok, 0)
	return tok
}

// CheckCSRF reports whether the posted form's token matches the request's CSRF cookie.
func (c Cookies) CheckCSRF(r *http.Request) bool {
	ck, err := r.Cookie(c.name("csrf"))
	if err != nil || ck.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(FormField))) == 1
}

// Session returns the login-session cookie's value ("" when absent).
func (c Cookies) Session(r *http.Request) string {
	if ck, err := r.Cookie(c.name("session")); err == nil {
		return ck.Value
	}
	return ""
}

// SetSession sets the login-session cookie (a session cookie of the browser; the server
// bounds the session's life), or clears it when value is empty.
func (c Cookies) SetSession(w http.ResponseWriter, value string) {
	maxAge := 0
	if value == "" {
		maxAge = -1
	}
	c.set(w, "session", value, maxAge)
}

func (c Cookies) set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.name(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}
