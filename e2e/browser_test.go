package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// The hosted pages in a real browser (CONTRACT §12): Debian's chromium, headless, driven by
// chromedp. The test skips with one line only when no chromium is installed (.ci/run
// installs it).

// chromium returns the path of an installed Chromium.
func chromium() (string, bool) {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// newChrome starts a headless Chromium of the test's own (its own profile folder) and returns
// the context that drives it; it is stopped when the test ends.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	path, ok := chromium()
	if !ok {
		t.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(browser); err != nil { // starts the browser (on a context without a deadline)
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// screenshotDir is where the pages' screenshots go: SCREENSHOTS_DIR (docs/screenshots for
// `make screenshots`), else the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SCREENSHOTS_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

// screenshots takes full-page PNGs of the current page at 320 and 1280 CSS pixels wide, named
// name-320.png and name-1280.png, and checks they are what was asked for.
func screenshots(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	for _, w := range []int64{320, 1280} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800)); err != nil {
			t.Fatal(err)
		}
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s at %d px: %v", name, w, err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil || img.Bounds().Dx() != int(w) {
			t.Fatalf("screenshot %s at %d px: %v, %d px wide", name, w, err, img.Bounds().Dx())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Back to a desktop width for what follows.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
}

// pageText runs steps, then returns the text of the element sel.
func pageText(ctx context.Context, sel chromedp.CSS, steps ...chromedp.Action[chromedp.Void]) (string, error) {
	if err := chromedp.Do(ctx, append(steps, chromedp.WaitVisible(sel))...); err != nil {
		return "", err
	}
	return chromedp.Run(ctx, chromedp.Text(sel))
}

func TestHostedPagesInABrowser(t *testing.T) {
	ctx := newChrome(t)
	shots := screenshotDir(t)
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "browsing")
	elsewhere := c.login(s.Auth.URL, user) // a session on another device, to end from the page

	// The client's redirect URI: a page of its own, which the browser lands on.
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>callback</title><p id="callback">back at the app</p>`)
	}))
	t.Cleanup(callback.Close)
	redirect := callback.URL + "/cb"
	clientID := addClient(t, s.Auth, "Example app", "--grant", "authorization_code", "--redirect-uri", redirect)
	ver := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid profile"},
		"state": {"xyz"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(ver)}, "code_challenge_method": {"S256"}}

	// Log in through /authorize: the form, then back at the client with a code.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.Auth.URL+"/authorize?"+q.Encode()),
		chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("the login page: %v", err)
	}
	screenshots(t, ctx, shots, "login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), user.Username), chromedp.SendKeys(chromedp.ID("password"), user.Password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("callback"))); err != nil {
		t.Fatalf("log in through the page: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(loc)
	if !strings.HasPrefix(loc, redirect) || back.Query().Get("code") == "" || back.Query().Get("state") != "xyz" || back.Query().Get("iss") != s.Auth.URL {
		t.Fatalf("landed on %s; want %s with code, state and iss", loc, redirect)
	}
	c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {clientID}, "code_verifier": {ver}}).Want(t, http.StatusOK)

	// The account page: the profile and the sessions, this browser's marked.
	text, err := pageText(ctx, "main", chromedp.Navigate(s.Auth.URL+"/ui/account"), chromedp.WaitVisible(chromedp.ID("sessions")))
	if err != nil {
		t.Fatalf("the account page: %v", err)
	}
	if !strings.Contains(text, user.Username) || !strings.Contains(text, user.Email) || !strings.Contains(text, "this browser") {
		t.Fatalf("the account page shows:\n%s", text)
	}
	screenshots(t, ctx, shots, "account")

	// "End this one" ends the other device's session.
	sid := jwtClaims(t, elsewhere.AccessToken)["sid"].(string)
	text, err = pageText(ctx, ".notice", chromedp.Click(chromedp.CSS(`form:has(input[value="`+sid+`"]) button`)))
	if err != nil {
		t.Fatalf("end a session: %v", err)
	}
	if !strings.Contains(text, "ended") {
		t.Errorf("after ending a session the page says %q", text)
	}
	c.Get(s.Auth.URL+"/me", bearer(elsewhere.AccessToken)).Want(t, http.StatusUnauthorized)

	// Change the password from the page (loaded afresh: the notice waited for is the next one).
	const newPassword = "a better horse battery"
	text, err = pageText(ctx, ".notice", chromedp.Navigate(s.Auth.URL+"/ui/account"), chromedp.SendKeys(chromedp.ID("current_password"), user.Password),
		chromedp.SendKeys(chromedp.ID("new_password"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/ui/account/password"] button`)))
	if err != nil {
		t.Fatalf("change the password: %v", err)
	}
	if !strings.Contains(text, "password was changed") {
		t.Errorf("after the change the page says %q", text)
	}
	user.Password = newPassword
	after := c.login(s.Auth.URL, user)

	// A wrong password on a form shows on the page, not as JSON.
	text, err = pageText(ctx, ".error", chromedp.SendKeys(chromedp.ID("delete_password"), "not my password"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/account/delete"] button`)))
	if err != nil {
		t.Fatalf("a wrong password: %v", err)
	}
	if !strings.Contains(text, "password is wrong") {
		t.Errorf("after a wrong password the page says %q", text)
	}

	// "Log out everywhere" ends every session, this browser's too.
	text, err = pageText(ctx, "#message", chromedp.Click(chromedp.CSS(`form[action="/ui/account/logout-all"] button`)))
	if err != nil {
		t.Fatalf("log out everywhere: %v", err)
	}
	if text != "You are logged out." {
		t.Errorf("after logging out everywhere the page says %q", text)
	}
	c.Get(s.Auth.URL+"/me", bearer(after.AccessToken)).Want(t, http.StatusUnauthorized)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.Auth.URL+"/ui/account"), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("the account page after logging out does not ask to log in: %v", err)
	}
}

// Two-step verification on the pages: enrol from the account page by its QR code (decoded
// here: the otpauth URI carries the secret the page shows), confirm with a code, get the
// recovery codes once; then a login through /authorize asks for the code as its second step,
// and a recovery code gets the browser back to the client, with amr pwd, otp in its tokens.
func TestHostedPagesMFAInABrowser(t *testing.T) {
	ctx := newChrome(t)
	shots := screenshotDir(t)
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "twostep")
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>callback</title><p id="callback">back at the app</p>`)
	}))
	t.Cleanup(callback.Close)
	redirect := callback.URL + "/cb"
	clientID := addClient(t, s.Auth, "Two-step app", "--grant", "authorization_code", "--redirect-uri", redirect)

	// Log in on the standalone page, then enrol from the account page.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(s.Auth.URL+"/ui/login"),
		chromedp.SendKeys(chromedp.ID("username"), user.Username), chromedp.SendKeys(chromedp.ID("password"), user.Password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("sessions")),
		chromedp.Click(chromedp.CSS(`form[action="/ui/account/mfa/enrol"] button`)), chromedp.WaitVisible(chromedp.ID("qr"))); err != nil {
		t.Fatalf("to the enrolment page: %v", err)
	}
	src, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("qr"), "src"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("secret")))
	if err != nil {
		t.Fatal(err)
	}
	screenshots(t, ctx, shots, "mfa-enrol")
	uri := decodeQR(t, src.Value)
	if u, err := url.Parse(uri); err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret {
		t.Fatalf("the page's QR code reads %q; want an otpauth URI with the secret the page shows (%s)", uri, secret)
	}
	text, err := pageText(ctx, "#recovery_codes", chromedp.SendKeys(chromedp.ID("mfa_code"), totpCode(t, secret, 0)),
		chromedp.Click(chromedp.CSS(`form[action="/ui/account/mfa/confirm"] button`)))
	if err != nil {
		t.Fatalf("confirm the enrolment: %v", err)
	}
	codes := strings.Fields(text)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10: %q", len(codes), text)
	}

	// A fresh browser: /authorize → password → the code step → a recovery code → the client.
	ctx2 := newChrome(t)
	ver := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid"},
		"state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(ver)}, "code_challenge_method": {"S256"}}
	if err := chromedp.Do(ctx2, chromedp.Navigate(s.Auth.URL+"/authorize?"+q.Encode()),
		chromedp.SendKeys(chromedp.ID("username"), user.Username), chromedp.SendKeys(chromedp.ID("password"), user.Password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("code"))); err != nil {
		t.Fatalf("the second step's page: %v", err)
	}
	if text, err := pageText(ctx2, ".error", chromedp.SendKeys(chromedp.ID("code"), "000000"), chromedp.Click(chromedp.CSS(`button[type="submit"]`))); err != nil || !strings.Contains(text, "wrong") {
		t.Fatalf("a wrong code: %q, %v", text, err)
	}
	if err := chromedp.Do(ctx2, chromedp.SendKeys(chromedp.ID("code"), codes[0]), chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("callback"))); err != nil {
		t.Fatalf("a recovery code: %v", err)
	}
	loc, err := chromedp.Run(ctx2, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	back, _ := url.Parse(loc)
	var tok tokenResponse
	c.PostForm(s.Auth.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {clientID}, "code_verifier": {ver}}).Want(t, http.StatusOK).JSON(t, &tok)
	if amr := fmt.Sprint(jwtClaims(t, tok.AccessToken)["amr"]); amr != "[pwd otp]" {
		t.Errorf("amr of the code flow's token after the second step = %s, want [pwd otp]", amr)
	}
}

// Forgot and reset through the pages: the forgot page answers the same for any address, the
// logged mail's link (no SMTP_URL) opens the reset page, the new password works and the old
// sessions are over.
func TestHostedPagesPasswordResetInABrowser(t *testing.T) {
	ctx := newChrome(t)
	s := startStack(t, StackOptions{})
	c := newClient(t)
	user := c.signup(s.Auth.URL, "forgetful")
	text, err := pageText(ctx, "#message", chromedp.Navigate(s.Auth.URL+"/ui/login"), chromedp.Click(chromedp.CSS(`a[href="/ui/forgot"]`)),
		chromedp.WaitVisible(chromedp.ID("email")), chromedp.SendKeys(chromedp.ID("email"), user.Email), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if err != nil {
		t.Fatalf("the forgot page: %v", err)
	}
	if !strings.Contains(text, "If the address belongs to an account") {
		t.Errorf("after asking, the page says %q", text)
	}
	var tok string
	if !poll(20*time.Second, func() bool { tok = loggedToken(s.Auth.Output(), user.Email, "reset"); return tok != "" }) {
		t.Fatal("no reset mail was logged")
	}
	const newPassword = "remembered at last"
	text, err = pageText(ctx, "#message", chromedp.Navigate(s.Auth.URL+"/ui/reset?token="+url.QueryEscape(tok)),
		chromedp.WaitVisible(chromedp.ID("new_password")), chromedp.SendKeys(chromedp.ID("new_password"), newPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if err != nil {
		t.Fatalf("the reset page: %v", err)
	}
	if !strings.Contains(text, "password was changed") {
		t.Errorf("after the reset the page says %q", text)
	}
	c.Get(s.Auth.URL+"/me", bearer(user.Tokens.AccessToken)).Want(t, http.StatusUnauthorized)
	user.Password = newPassword
	c.login(s.Auth.URL, user)
	// The link works once.
	text, err = pageText(ctx, ".error", chromedp.Navigate(s.Auth.URL+"/ui/reset?token="+url.QueryEscape(tok)),
		chromedp.WaitVisible(chromedp.ID("new_password")), chromedp.SendKeys(chromedp.ID("new_password"), "yet another one"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if err != nil || !strings.Contains(text, "used") {
		t.Errorf("a used link: %q, %v", text, err)
	}
}
