package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// ftMistake is one client mistake: a request and the 4xx it must get.
type ftMistake struct {
	name         string
	kind         string // the server: kindAuth or kindResource
	method, path string
	ctype, body  string // Content-Type ("" sends none) and body
	chunked      bool   // send the body without a Content-Length
	token        bool   // send a valid access token
	hdr          [2]string
	want         int
	docOK        bool // the request matches docs/openapi.yaml (only the server can tell the mistake)
}

// ftMistakes are the client mistakes of TestClientMistakesNever5xx.
func ftMistakes() []ftMistake {
	const js, form = "application/json", "application/x-www-form-urlencoded"
	big := `{"username":"` + strings.Repeat("a", 70<<10) + `"}`
	bigNote := `{"title":"` + strings.Repeat("a", 70<<10) + `"}`
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	a, r := kindAuth, kindResource
	return []ftMistake{
		{name: "signup text/plain", kind: a, method: "POST", path: "/signup", ctype: "text/plain", body: "hello", want: 415},
		{name: "signup over 64 KiB", kind: a, method: "POST", path: "/signup", ctype: js, body: big, want: 413},
		{name: "signup over 64 KiB chunked", kind: a, method: "POST", path: "/signup", ctype: js, body: big, chunked: true, want: 413},
		{name: "signup malformed JSON", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":`, want: 400},
		{name: "signup JSON array", kind: a, method: "POST", path: "/signup", ctype: js, body: `[]`, want: 400},
		{name: "signup nested 10000 deep", kind: a, method: "POST", path: "/signup", ctype: js, body: deep, want: 400},
		{name: "signup missing fields", kind: a, method: "POST", path: "/signup", ctype: js, body: `{}`, want: 400},
		{name: "signup wrong types", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":1,"email":true,"password":null}`, want: 400},
		{name: "signup invalid UTF-8", kind: a, method: "POST", path: "/signup", ctype: js, body: "{\"username\":\"ab\xffc\",\"email\":\"x@example.com\",\"password\":\"password1\"}", want: 400},
		{name: "signup NUL in username", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":"a\u0000bc","email":"x@example.com","password":"password1"}`, want: 400},
		{name: "login malformed form", kind: a, method: "POST", path: "/login", ctype: form, body: "username=%zz&password=x", want: 400},
		{name: "login XML", kind: a, method: "POST", path: "/login", ctype: "application/xml", body: "<login/>", want: 415},
		{name: "login empty body", kind: a, method: "POST", path: "/login", ctype: form, want: 400},
		{name: "login NUL in username", kind: a, method: "POST", path: "/login", ctype: js, body: `{"username":"a\u0000b","password":"password1"}`, want: 401, docOK: true},
		{name: "login NUL in username form", kind: a, method: "POST", path: "/login", ctype: form, body: "username=a%00b&password=password1", want: 401, docOK: true},
		{name: "login invalid UTF-8 username", kind: a, method: "POST", path: "/login", ctype: form, body: "username=a%ff%feb&password=password1", want: 401, docOK: true},
		{name: "token unsupported grant", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=implicit", want: 400},
		{name: "token client credentials for the public first-party client", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=client_credentials", want: 400, docOK: true},
		{name: "token unknown client", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=client_credentials&client_id=nope&client_secret=x", want: 401, docOK: true},
		{name: "token malformed scope", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=password&username=a&password=b&scope=%22x%22", want: 400, docOK: true},
		{name: "token no grant type", kind: a, method: "POST", path: "/token", ctype: form, body: "username=a&password=b", want: 400},
		{name: "token refresh grant without token", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=refresh_token", want: 400, docOK: true},
		{name: "token password grant without password", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=password&username=a", want: 400, docOK: true},
		{name: "token grant type not a string", kind: a, method: "POST", path: "/token", ctype: js, body: `{"grant_type":5}`, want: 400},
		{name: "refresh missing token", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{}`, want: 400},
		{name: "refresh token not a string", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{"refresh_token":42}`, want: 400},
		{name: "refresh NUL in token", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{"refresh_token":"a\u0000b"}`, want: 400, docOK: true},
		{name: "logout missing token", kind: a, method: "POST", path: "/logout", ctype: js, body: `{}`, want: 400},
		{name: "logout all not a boolean", kind: a, method: "POST", path: "/logout", ctype: js, body: `{"refresh_token":"x","all":"maybe"}`, want: 400},
		{name: "revoke missing token", kind: a, method: "POST", path: "/revoke", ctype: form, body: "token_type_hint=refresh_token", want: 400},
		{name: "GET /signup", kind: a, method: "GET", path: "/signup", want: 405},
		{name: "DELETE jwks", kind: a, method: "DELETE", path: "/.well-known/jwks.json", want: 405},
		{name: "PUT /me", kind: a, method: "PUT", path: "/me", token: true, want: 405},
		{name: "unknown route", kind: a, method: "GET", path: "/nowhere", want: 404},
		{name: "me Basic credentials", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Basic YTpi"}, want: 401},
		{name: "me 40 KiB bearer", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Bearer " + strings.Repeat("a", 40<<10)}, want: 401, docOK: true},
		{name: "me invalid UTF-8 bearer", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Bearer \xff\xfe.\xfd"}, want: 401, docOK: true},
		{name: "me empty update", kind: a, method: "PATCH", path: "/me", token: true, ctype: js, body: `{}`, want: 400},
		{name: "me invalid email", kind: a, method: "PATCH", path: "/me", token: true, ctype: js, body: `{"email":"not an address"}`, want: 400},
		{name: "password wrong types", kind: a, method: "POST", path: "/password", token: true, ctype: js, body: `{"current_password":1,"new_password":[]}`, want: 400},
		{name: "session NUL id", kind: a, method: "DELETE", path: "/sessions/%00", token: true, want: 404, docOK: true},
		{name: "session invalid UTF-8 id", kind: a, method: "DELETE", path: "/sessions/%ff", token: true, want: 404, docOK: true},

		{name: "note text/plain", kind: r, method: "POST", path: "/notes", token: true, ctype: "text/plain", body: "hello", want: 415},
		{name: "note over 64 KiB", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: bigNote, want: 413},
		{name: "note over 64 KiB chunked", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: bigNote, chunked: true, want: 413},
		{name: "note malformed JSON", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{"title":`, want: 400},
		{name: "note missing title", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{}`, want: 400},
		{name: "note NUL in title", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{"title":"a\u0000b"}`, want: 400, docOK: true},
		{name: "PUT /notes", kind: r, method: "PUT", path: "/notes", token: true, want: 405},
		{name: "unknown route", kind: r, method: "GET", path: "/nowhere", want: 404},
		{name: "note NUL id", kind: r, method: "GET", path: "/notes/%00", token: true, want: 404, docOK: true},
		{name: "note invalid UTF-8 id", kind: r, method: "GET", path: "/notes/%ff", token: true, want: 404, docOK: true},
		{name: "note 4000-character id", kind: r, method: "DELETE", path: "/notes/" + strings.Repeat("a", 4000), token: true, want: 404, docOK: true},
		{name: "whoami no token", kind: r, method: "GET", path: "/whoami", want: 401},
		{name: "whoami Basic credentials", kind: r, method: "GET", path: "/whoami", hdr: [2]string{"Authorization", "Basic YTpi"}, want: 401},
		{name: "whoami garbage bearer", kind: r, method: "GET", path: "/whoami", hdr: [2]string{"Authorization", "Bearer \xff.\xfe.\xfd"}, want: 401, docOK: true},
		{name: "sync without token", kind: r, method: "POST", path: "/sync/users", ctype: js, body: `{"events":[]}`, want: 401},
		{name: "sync with an access token", kind: r, method: "POST", path: "/sync/users", token: true, ctype: js, body: `{"events":[]}`, want: 401, docOK: true},
		{name: "awesome_app malformed JSON", kind: r, method: "POST", path: "/awesome_app", ctype: js, body: `{"access_token":`, want: 400},
	}
}

// TestClientMistakesNever5xx checks CONTRACT §6 and §7 ("a client mistake never gets a 5xx";
// errors are JSON {error, error_description}; bodies over 64 KiB get 413): a table of client
// mistakes at both servers, each answered its 4xx with the error shape, on SQLite and on
// PostgreSQL; and headers over the servers' limit, answered 431.
func TestClientMistakesNever5xx(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var o StackOptions
			if backend == "postgres" {
				o.Auth, o.Resource = pgEnv(t)
			}
			s := startStack(t, o)
			c := newClient(t)
			token := c.signup(s.Auth.URL, "clumsy").Tokens.AccessToken
			for _, m := range ftMistakes() {
				p := s.Auth
				if m.kind == kindResource {
					p = s.Resource
				}
				t.Run(m.kind+" "+m.name, func(t *testing.T) { ftSendMistake(t, c, p, m, token) })
			}
			for _, p := range []*Proc{s.Auth, s.Resource} {
				t.Run(p.Kind+" header of 1 MiB", func(t *testing.T) { ftHugeHeader(t, p) })
			}
		})
	}
}

func ftSendMistake(t *testing.T, c *Client, p *Proc, m ftMistake, token string) {
	var body io.Reader
	if m.body != "" {
		body = strings.NewReader(m.body)
		if m.chunked {
			body = io.MultiReader(body) // no known length: sent chunked
		}
	}
	var opts []Opt
	if m.ctype != "" {
		opts = append(opts, header("Content-Type", m.ctype))
	}
	if m.token {
		opts = append(opts, bearer(token))
	}
	if m.hdr[0] != "" {
		opts = append(opts, header(m.hdr[0], m.hdr[1]))
	}
	if !m.docOK {
		opts = append(opts, invalid())
	}
	r := c.Send(m.method, p.URL+m.path, body, opts...)
	if r.StatusCode != m.want {
		t.Errorf("%s %s: %d, want %d: %s", m.method, m.path, r.StatusCode, m.want, truncate(r.Body, 300))
	}
	ftWantErrorShape(t, r.StatusCode, r.Header, r.Body)
}

// ftHugeHeader sends p a request with a 1 MiB header, far past the servers' 64 KiB limit, on
// a fresh connection and without the validating client: the answer must be 431. Go's
// net/http writes it before any handler runs, as text/plain, so its body is not held to the
// error shape.
func ftHugeHeader(t *testing.T, p *Proc) {
	req, err := http.NewRequest(http.MethodGet, p.URL+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 1<<20))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /healthz with a 1 MiB header: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET /healthz with a 1 MiB header: %d, want 431", resp.StatusCode)
	}
}

// ftWantErrorShape fails unless an error answer is JSON {"error", "error_description"}.
func ftWantErrorShape(t *testing.T, status int, h http.Header, body []byte) {
	t.Helper()
	var e struct {
		Error       *string `json:"error"`
		Description *string `json:"error_description"`
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%d answered with Content-Type %q, want application/json", status, ct)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Description == nil || *e.Error == "" {
		t.Errorf(`%d body is not {"error", "error_description"}: %s`, status, truncate(body, 300))
	}
}
