// Package ui renders the auth server's hosted pages (CONTRACT §12): server-side HTML from
// embedded html/template files and one small stylesheet, working without JavaScript. It knows
// no account rules: handlers in the server package call the account service and hand the
// results here. Every page gets the security headers of Headers and carries a CSRF token in
// every form (csrf.go).
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// StylePath is where the stylesheet is served.
const StylePath = "/ui/static/style.css"

// Pages renders the hosted pages.
type Pages struct {
	product string
	pages   map[string]*template.Template
}

// New parses the embedded templates; product is the name the pages show (the issuer's host,
// or MAIL_PRODUCT_NAME).
func New(product string) (*Pages, error) {
	base, err := template.New("base.html").Funcs(template.FuncMap{"join": strings.Join}).ParseFS(templateFS, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	p := &Pages{product: product, pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "base" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("ui: %s: %w", n, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// View is what every page gets: the product name, the page title, the CSRF token of its
// forms, and an error or a notice to show (never raw JSON).
type View struct {
	Product, Title string
	CSRF           string
	Error, Notice  string
	Data           any
}

// Render writes page with status, the security headers set (formTargets are the origins the
// page's forms may lead to besides this server, e.g. a client's redirect URI after a login).
func (p *Pages) Render(w http.ResponseWriter, status int, page string, v View, formTargets ...string) {
	t, ok := p.pages[page]
	if !ok {
		panic("ui: no page " + page) // a programming error, caught by the tests
	}
	v.Product = p.product
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base.html", v); err != nil {
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	Headers(w.Header(), formTargets...)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Headers sets the headers of every page: a Content-Security-Policy allowing no script at
// all, this server's stylesheet and data: images (the QR code), forms posting here (or to
// formTargets, which a redirect after a form's post may reach), no framing; no referrer; no
// caching (pages carry CSRF tokens and personal data); no MIME sniffing.
func Headers(h http.Header, formTargets ...string) {
	form := strings.Join(append([]string{"'self'"}, formTargets...), " ")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "+form+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// ServeStyle serves the stylesheet.
func ServeStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(styleCSS)
}
