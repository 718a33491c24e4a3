package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The authorization code flow with PKCE and OpenID Connect (CONTRACT §12), driven by
// golang.org/x/oauth2 and coreos/go-oidc as a relying party would, the login form posted by a
// cookie-keeping HTTP client in the browser's place.

// browser is a cookie-keeping client that does not follow redirects, so a test reads them.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields are a page's hidden form fields (the CSRF token, the carried request).
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// loginThroughPage answers the login page at page (from GET /authorize) with a's credentials
// and returns the redirect the server answers with.
func (b *browser) loginThroughPage(authURL, page string, a account) *url.URL {
	b.t.Helper()
	form := hiddenFields(page)
	if form.Get("csrf") == "" {
		b.t.Fatalf("the login page has no CSRF token:\n%s", page)
	}
	form.Set("username", a.Username)
	form.Set("password", a.Password)
	resp, body := b.post(authURL+"/ui/login", form)
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("POST /ui/login: %d, want 302\n%s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

func addClient(t *testing.T, auth *Proc, args ...string) string {
	t.Helper()
	out := auth.MustCLI(append([]string{"clients", "add"}, args...)...).Stdout
	m := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients add printed:\n%s", out)
	}
	return m[1]
}

func TestCodeFlowWithGoOIDC(t *testing.T) {
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "oidcuser")
	const redirect = "http://127.0.0.1:9/callback" // never reached: the test reads the redirect
	clientID := addClient(t, s.Auth, "Single page app", "--grant", "authorization_code", "--grant", "refresh_token",
		"--redirect-uri", redirect, "--post-logout-uri", "http://127.0.0.1:9/bye")

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.Auth.URL)
	if err != nil {
		t.Fatalf("OpenID discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: clientID, Endpoint: provider.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	ver, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()

	b := newBrowser(t)
	resp, page := b.get(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(ver), oidc.Nonce(nonce)))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Single page app") {
		t.Fatalf("GET /authorize without a session: %d, want the login page naming the client\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("login page headers: CSP %q, Referrer-Policy %q", csp, resp.Header.Get("Referrer-Policy"))
	}
	loc := b.loginThroughPage(s.Auth.URL, page, user)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect || q.Get("state") != state || q.Get("iss") != s.Auth.URL || q.Get("code") == "" {
		t.Fatalf("redirect after login: %s; want %s with code, state and iss", loc, redirect)
	}
	code := q.Get("code")

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(ver))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc refused the ID token: %v", err)
	}
	var claims struct {
		Username string   `json:"preferred_username"`
		Email    string   `json:"email"`
		SID      string   `json:"sid"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce || idt.Subject != user.ID || claims.Username != user.Username || claims.Email != user.Email || claims.SID == "" || claims.AuthTime == 0 || len(claims.AMR) == 0 {
		t.Errorf("ID token: nonce %q sub %q claims %+v", idt.Nonce, idt.Subject, claims)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != user.ID || info.Email != user.Email {
		t.Errorf("UserInfo = %+v, %v", info, err)
	}
	accepted(t, c, s.Resource.URL, "/whoami", tok.AccessToken, "the code flow's access token")
	if sc := tok.Extra("scope"); sc != "openid profile email" {
		t.Errorf("scope = %v", sc)
	}

	// A second /authorize in the same browser: no form, a code at once.
	ver2 := oauth2.GenerateVerifier()
	resp, _ = b.get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(ver2), oidc.Nonce("n2")))
	loc2, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc2.Query().Get("code") == "" {
		t.Fatalf("GET /authorize with a login session: %d %s, want 302 with a code", resp.StatusCode, loc2)
	}
	// prompt=login asks again.
	resp, _ = b.get(conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(ver2), oauth2.SetAuthURLParam("prompt", "login")))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("prompt=login: %d, want the login page", resp.StatusCode)
	}
	// The login session is listed among the user's sessions.
	var sessions struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	c.Get(s.Auth.URL+"/sessions", bearer(tok.AccessToken)).Want(t, http.StatusOK).JSON(t, &sessions)
	if len(sessions.Sessions) < 3 { // signup, the browser's login session, the code's session
		t.Errorf("GET /sessions lists %d sessions, want the login session among them", len(sessions.Sessions))
	}

	// Refreshing keeps the session and returns a new ID token.
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	accepted(t, c, s.Resource.URL, "/whoami", fresh.AccessToken, "the refreshed token")
	if raw, _ := fresh.Extra("id_token").(string); raw == "" {
		t.Error("a refresh of the code's session returned no ID token")
	} else if again, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw); err != nil || again.Subject != user.ID {
		t.Errorf("the refreshed ID token: %v", err)
	}

	// The code again: invalid_grant, and the session it started is revoked everywhere.
	_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(ver))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("a code used twice: %v, want invalid_grant", err)
	}
	revokedWithin(t, c, s.Resource.URL, "/whoami", fresh.AccessToken, time.Now(), revocationBound, "the session of a replayed code")
}

// The errors of the authorization endpoint and the code grant (RFC 6749 §4.1.2.1, §5.2).
func TestAuthorizationErrors(t *testing.T) {
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "errs")
	const redirect = "http://127.0.0.1:9/cb"
	public := addClient(t, s.Auth, "Public app", "--grant", "authorization_code", "--redirect-uri", redirect)
	confidential := addClient(t, s.Auth, "Backend app", "--confidential", "--grant", "authorization_code", "--redirect-uri", redirect)
	noCode := addClient(t, s.Auth, "Password only", "--grant", "password", "--redirect-uri", redirect)
	ver := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(ver)
	authz := func(v url.Values) string { return s.Auth.URL + "/authorize?" + v.Encode() }
	base := func(client string) url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect}, "state": {"st"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {"openid"}}
	}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for kk, vv := range v {
			out[kk] = vv
		}
		if val == "" {
			out.Del(k)
		} else {
			out.Set(k, val)
		}
		return out
	}
	b := newBrowser(t)
	// Not redirectable: an HTML page, never a redirect.
	for name, v := range map[string]url.Values{
		"unknown client":          with(base(public), "client_id", "nobody"),
		"unregistered redirect":   with(base(public), "redirect_uri", "http://evil.example/cb"),
		"redirect differing by /": with(base(public), "redirect_uri", redirect+"/"),
		"no client_id":            with(base(public), "client_id", ""),
	} {
		resp, body := b.get(authz(v))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
			strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d Location %q %s; want a 400 HTML page", name, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Type"))
		}
	}
	// Redirectable: 302 to the client with error, state and iss.
	for name, tc := range map[string]struct {
		v    url.Values
		code string
	}{
		"plain PKCE":             {with(base(public), "code_challenge_method", "plain"), "invalid_request"},
		"no PKCE":                {with(with(base(public), "code_challenge", ""), "code_challenge_method", ""), "invalid_request"},
		"token response type":    {with(base(public), "response_type", "token"), "unsupported_response_type"},
		"grant the client lacks": {base(noCode), "unauthorized_client"},
		"unknown scope":          {with(base(public), "scope", "openid everything"), "invalid_scope"},
		"prompt none, no login":  {with(base(public), "prompt", "none"), "login_required"},
		"bad prompt":             {with(base(public), "prompt", "consent"), "invalid_request"},
	} {
		resp, _ := b.get(authz(tc.v))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != tc.code || loc.Query().Get("state") != "st" ||
			loc.Query().Get("iss") != s.Auth.URL || !strings.HasPrefix(loc.String(), redirect) {
			t.Errorf("%s: %d %v; want 302 to the redirect URI with error=%s, state and iss", name, resp.StatusCode, loc, tc.code)
		}
	}

	// A code, then the grant's errors.
	codeFor := func(client string) string {
		t.Helper()
		_, page := b.get(authz(base(client)))
		if strings.Contains(page, `name="password"`) {
			return b.loginThroughPage(s.Auth.URL, page, user).Query().Get("code")
		}
		t.Fatalf("no login page:\n%s", page)
		return ""
	}
	tokenReq := func(v url.Values, opts ...Opt) *Response {
		return c.PostForm(s.Auth.URL+"/token", v, opts...)
	}
	code := codeFor(public)
	grant := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {public}, "code_verifier": {ver}}
	for name, tc := range map[string]struct {
		v    url.Values
		code string
	}{
		"wrong verifier":     {with(grant, "code_verifier", oauth2.GenerateVerifier()), "invalid_grant"},
		"other redirect URI": {with(grant, "redirect_uri", redirect+"x"), "invalid_grant"},
		"other client":       {with(grant, "client_id", noCode), "unauthorized_client"},
		"unknown code":       {with(grant, "code", "not-a-code"), "invalid_grant"},
		"missing verifier":   {with(grant, "code_verifier", ""), "invalid_request"},
	} {
		r := tokenReq(tc.v)
		var e struct {
			Error string `json:"error"`
		}
		r.JSON(t, &e)
		if e.Error != tc.code || r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 %s", name, r.StatusCode, r.Body, tc.code)
		}
	}
	tokenReq(grant).Want(t, http.StatusOK) // the failed attempts left the code usable

	// A confidential client must authenticate.
	codeC := codeForLoggedIn(t, b, authz(base(confidential)))
	r := tokenReq(url.Values{"grant_type": {"authorization_code"}, "code": {codeC}, "redirect_uri": {redirect}, "client_id": {confidential}, "code_verifier": {ver}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(string(r.Body), "invalid_client") {
		t.Errorf("a confidential client without its secret: %d %s, want 401 invalid_client", r.StatusCode, r.Body)
	}

	// A wrong password on the page: 400 with the message on the page, no session cookie.
	fresh := newBrowser(t)
	_, page := fresh.get(authz(base(public)))
	form := hiddenFields(page)
	form.Set("username", user.Username)
	form.Set("password", "not the password")
	resp, body := fresh.post(s.Auth.URL+"/ui/login", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "The username or password is wrong.") ||
		strings.Contains(resp.Header.Get("Set-Cookie"), "session=") {
		t.Errorf("a wrong password on the page: %d, Set-Cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}

	// A login form posted without its CSRF token changes nothing.
	resp, _ = newBrowser(t).post(s.Auth.URL+"/ui/login", url.Values{"username": {user.Username}, "password": {user.Password}})
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" && strings.Contains(resp.Header.Get("Set-Cookie"), "session=") {
		t.Errorf("login without CSRF: %d, set-cookie %q; want 403 and no session", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

// codeForLoggedIn runs /authorize in a browser that has a login session and returns the code.
func codeForLoggedIn(t *testing.T, b *browser, u string) string {
	t.Helper()
	resp, body := b.get(u)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return loc.Query().Get("code")
}

// openid-client (Node) completes the flow against the real binaries: discovery, the code
// redeemed with PKCE from the callback the browser reached, the ID token checked with its
// nonce, UserInfo.
func TestCodeFlowWithOpenIDClient(t *testing.T) {
	dir := filepath.Join(suite.moduleRoot, "e2e", "interop", "node")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found in PATH; install Node.js 20+ for the openid-client check")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		t.Skip("openid-client not installed; run `npm ci` in e2e/interop/node")
	}
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "noderp")
	const redirect = "http://127.0.0.1:9/node-callback"
	clientID := addClient(t, s.Auth, "Node app", "--grant", "authorization_code", "--redirect-uri", redirect)
	ver, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid profile email"},
		"state": {state}, "nonce": {nonce}, "code_challenge": {oauth2.S256ChallengeFromVerifier(ver)}, "code_challenge_method": {"S256"}}
	b := newBrowser(t)
	_, page := b.get(s.Auth.URL + "/authorize?" + q.Encode())
	callback := b.loginThroughPage(s.Auth.URL, page, user)

	cmd := exec.Command("node", "codeflow.mjs", s.Auth.URL, clientID, callback.String(), ver, state, nonce)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openid-client: %v\n%s", err, out)
	}
	var got struct {
		Sub, Email, PreferredUsername, IDTokenSub string
	}
	if err := json.Unmarshal(out, &struct {
		Sub               *string `json:"sub"`
		Email             *string `json:"email"`
		PreferredUsername *string `json:"preferred_username"`
		IDTokenSub        *string `json:"id_token_sub"`
	}{&got.Sub, &got.Email, &got.PreferredUsername, &got.IDTokenSub}); err != nil {
		t.Fatalf("openid-client printed %q: %v", out, err)
	}
	if got.Sub != user.ID || got.IDTokenSub != user.ID || got.Email != user.Email || got.PreferredUsername != user.Username {
		t.Errorf("openid-client saw %+v, want user %s", got, user.ID)
	}
}

// Authlib's OpenID Provider metadata validation accepts both metadata documents' OpenID one
// (OpenID Connect Discovery 1.0: RS256 among the ID token algorithms, the required fields).
func TestOpenIDMetadataAuthlib(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import authlib").Run(); err != nil {
		t.Skip("Authlib not installed (Debian's python3-authlib); .ci/run installs it")
	}
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			// Discovery requires an https issuer (behind a TLS proxy in production); the
			// document is fetched from the server's own address.
			auth := startAuth(t, map[string]string{"ALGORITHM": alg, "AUTH_ISSUER": "https://auth.example.test"})
			cmd := exec.Command(py, filepath.Join(suite.moduleRoot, "e2e", "interop", "python", "oidc_metadata.py"),
				auth.URL+"/.well-known/openid-configuration")
			if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Errorf("Authlib: %v\n%s", err, out)
			}
		})
	}
}

// RP-initiated logout: with the ID token as hint the login session ends and the browser goes
// to the registered post-logout URI with its state; an unregistered one gets a page; without
// a hint the user is asked to confirm and nothing ends.
func TestRPInitiatedLogout(t *testing.T) {
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "leaving")
	const redirect, bye = "http://127.0.0.1:9/cb", "http://127.0.0.1:9/bye"
	clientID := addClient(t, s.Auth, "Leaving app", "--grant", "authorization_code", "--redirect-uri", redirect, "--post-logout-uri", bye)
	ver := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(ver)}, "code_challenge_method": {"S256"}}
	b := newBrowser(t)
	_, page := b.get(s.Auth.URL + "/authorize?" + q.Encode())
	code := b.loginThroughPage(s.Auth.URL, page, user).Query().Get("code")
	var tok tokenResponse
	var withID struct {
		IDToken string `json:"id_token"`
	}
	r := c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {clientID}, "code_verifier": {ver}}).Want(t, http.StatusOK)
	r.JSON(t, &tok)
	r.JSON(t, &withID)

	// No hint: a page asking to confirm; the login session lives on.
	resp, body := b.get(s.Auth.URL + "/logout?post_logout_redirect_uri=" + url.QueryEscape(bye))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Do you want to log out") {
		t.Fatalf("logout without a hint: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.get(s.Auth.URL + "/authorize?" + q.Encode()); resp.StatusCode != http.StatusFound {
		t.Fatalf("after a logout without a hint the login session is gone (%d)", resp.StatusCode)
	}
	// An unregistered post-logout URI: logged out, but no redirect there.
	b2 := newBrowser(t)
	_, page = b2.get(s.Auth.URL + "/authorize?" + q.Encode())
	b2.loginThroughPage(s.Auth.URL, page, user)
	resp, _ = b2.get(s.Auth.URL + "/logout?id_token_hint=" + withID.IDToken + "&post_logout_redirect_uri=" + url.QueryEscape("http://evil.example/"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Errorf("an unregistered post-logout URI: %d to %q; want a page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// With the hint: the session ends and the browser goes to the registered URI with state.
	resp, _ = b.get(s.Auth.URL + "/logout?id_token_hint=" + withID.IDToken + "&post_logout_redirect_uri=" + url.QueryEscape(bye) + "&state=st")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != bye+"?state=st" {
		t.Fatalf("logout with a hint: %d to %q; want 302 to %s?state=st", resp.StatusCode, resp.Header.Get("Location"), bye)
	}
	if resp, _ := b.get(s.Auth.URL + "/authorize?" + q.Encode()); resp.StatusCode != http.StatusOK {
		t.Errorf("after the logout /authorize answers %d; want the login page again", resp.StatusCode)
	}
}
