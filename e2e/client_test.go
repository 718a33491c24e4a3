package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Client is a test's HTTP client: every exchange is validated against docs/openapi.yaml,
// each mismatch failing the test (t.Errorf, so a Client may be used from several
// goroutines).
type Client struct {
	t  testing.TB
	hc *http.Client
}

// newClient returns a validating client for t.
func newClient(t testing.TB) *Client {
	vt := &validatingTransport{v: suite.api, base: http.DefaultTransport, errorf: t.Errorf}
	return &Client{t: t, hc: &http.Client{Transport: vt, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is an answer with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into v, failing the test when it is not JSON of that shape.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s %s: decode %d body: %v\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, err, r.Body)
	}
}

// Want fails the test unless the status is want.
func (r *Response) Want(t testing.TB, want int) *Response {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.Request.Method, r.Request.URL, r.StatusCode, want, r.Body)
	}
	return r
}

// Opt shapes a request.
type Opt func(*http.Request)

// bearer sets `Authorization: Bearer token`.
func bearer(token string) Opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// header sets a header.
func header(k, v string) Opt { return func(r *http.Request) { r.Header.Set(k, v) } }

// invalid marks the request as violating the document on purpose (see expectInvalid).
func invalid() Opt {
	return func(r *http.Request) { *r = *r.WithContext(expectInvalid(r.Context())) }
}

// jsonBody is a JSON request body (Content-Type application/json).
func jsonBody(v any) (io.Reader, Opt) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a test's own literal: a programming error
	}
	return bytes.NewReader(b), header("Content-Type", "application/json")
}

// formBody is a form request body (Content-Type application/x-www-form-urlencoded).
func formBody(vals url.Values) (io.Reader, Opt) {
	return strings.NewReader(vals.Encode()), header("Content-Type", "application/x-www-form-urlencoded")
}

// TrySend sends a request and returns the answer or the transport error; it does not stop
// the test, so it may be called from any goroutine.
func (c *Client) TrySend(method, url string, body io.Reader, opts ...Opt) (*Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Response: resp, Body: b}, nil
}

// Send is TrySend that fails the test on a transport error (call it from the test's
// goroutine).
func (c *Client) Send(method, url string, body io.Reader, opts ...Opt) *Response {
	c.t.Helper()
	r, err := c.TrySend(method, url, body, opts...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// Get sends a GET.
func (c *Client) Get(url string, opts ...Opt) *Response {
	c.t.Helper()
	return c.Send(http.MethodGet, url, nil, opts...)
}

// PostJSON sends v as JSON.
func (c *Client) PostJSON(url string, v any, opts ...Opt) *Response {
	c.t.Helper()
	body, ct := jsonBody(v)
	return c.Send(http.MethodPost, url, body, append([]Opt{ct}, opts...)...)
}

// PostForm sends vals as a form.
func (c *Client) PostForm(url string, vals url.Values, opts ...Opt) *Response {
	c.t.Helper()
	body, ct := formBody(vals)
	return c.Send(http.MethodPost, url, body, append([]Opt{ct}, opts...)...)
}

// tokenResponse is RFC 6749 §5.1 as the auth server answers it.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// account is a user the test signed up, with its password.
type account struct {
	Username, Email, Password string
	ID                        string
	Tokens                    tokenResponse
}

// signup creates a fresh user at the auth server (201) and returns it with its tokens.
func (c *Client) signup(authURL, username string) account {
	c.t.Helper()
	a := account{Username: username, Email: username + "@example.com", Password: "correct horse " + username}
	r := c.PostJSON(authURL+"/signup", map[string]string{"username": a.Username, "email": a.Email, "password": a.Password})
	r.Want(c.t, http.StatusCreated)
	var out struct {
		tokenResponse
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	r.JSON(c.t, &out)
	a.ID, a.Tokens = out.User.ID, out.tokenResponse
	return a
}

// login logs a in with the form (200) and returns the token response.
func (c *Client) login(authURL string, a account) tokenResponse {
	c.t.Helper()
	r := c.PostForm(authURL+"/login", url.Values{"username": {a.Username}, "password": {a.Password}})
	r.Want(c.t, http.StatusOK)
	var tr tokenResponse
	r.JSON(c.t, &tr)
	return tr
}

// jwtHeader returns the decoded JOSE header of a compact JWS, without verifying anything.
func jwtHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	return jwtPart(t, token, 0)
}

// jwtClaims returns the decoded claims of a compact JWS, without verifying anything.
func jwtClaims(t testing.TB, token string) map[string]any {
	t.Helper()
	return jwtPart(t, token, 1)
}

func jwtPart(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("JWS part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("JWS part %d: %v", i, err)
	}
	return m
}

// kidOf is the kid of a token's header ("" when absent).
func kidOf(t testing.TB, token string) string {
	t.Helper()
	kid, _ := jwtHeader(t, token)["kid"].(string)
	return kid
}
