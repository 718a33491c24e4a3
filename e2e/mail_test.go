package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Email through a real SMTP server (CONTRACT §11): verification and reset end to end, an SMTP
// server that is down, one that stalls, and a relay killed mid-send.

// mailAuth starts an auth server sending through smtpURL, each SMTP step bounded by timeout.
func mailAuth(t testing.TB, smtpURL string, timeout time.Duration) *Proc {
	t.Helper()
	return startAuth(t, map[string]string{"SMTP_URL": smtpURL, "SMTP_TIMEOUT": timeout.String(),
		"MAIL_FROM": "auth@example.com", "MAIL_PRODUCT_NAME": "E2E Auth"})
}

// mailStatus runs `auth-server mail status --json` in the server's directory.
func mailStatus(t testing.TB, p *Proc) (pending int, lastError string) {
	t.Helper()
	r := p.MustCLI("mail", "status", "--json")
	var st struct {
		Pending   int    `json:"pending"`
		LastError string `json:"oldest_last_error"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("mail status: %v\n%s", err, r)
	}
	return st.Pending, st.LastError
}

func TestMailVerifyAndResetThroughSMTP(t *testing.T) {
	smtpd := startSMTP(t)
	auth := mailAuth(t, smtpd.URL(), 5*time.Second)
	c := newClient(t)
	a := c.signup(auth.URL, "mailuser")

	m := smtpd.Wait(a.Email, 1, 20*time.Second)[0]
	subject, text, _ := mailParts(t, m)
	if !strings.Contains(subject, "E2E Auth") || !strings.Contains(text, "ignore this mail") || m.From != "auth@example.com" {
		t.Errorf("verification mail: from %q, subject %q, text:\n%s", m.From, subject, text)
	}
	c.PostJSON(auth.URL+"/email/verify", map[string]string{"token": mailToken(t, m, "verify")}).Want(t, http.StatusNoContent)
	var me map[string]any
	c.Get(auth.URL+"/me", bearer(c.login(auth.URL, a).AccessToken)).Want(t, http.StatusOK).JSON(t, &me)
	if me["email_verified"] != true {
		t.Errorf("/me after verification: %v", me)
	}

	c.PostJSON(auth.URL+"/password/forgot", map[string]string{"email": a.Email}).Want(t, http.StatusAccepted)
	reset := smtpd.Wait(a.Email, 2, 20*time.Second)[1]
	tok := mailToken(t, reset, "reset")
	c.PostJSON(auth.URL+"/password/reset", map[string]string{"token": tok, "new_password": "a brand new password"}).Want(t, http.StatusNoContent)
	c.PostJSON(auth.URL+"/refresh", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusBadRequest)
	a.Password = "a brand new password"
	c.login(auth.URL, a)
	c.PostJSON(auth.URL+"/password/reset", map[string]string{"token": tok, "new_password": "yet another password"}).Want(t, http.StatusBadRequest)
}

// TestMailSMTPDown: with the SMTP server refusing connections, three signups answer 201 and
// their mails wait in the queue; once it is back each arrives exactly once.
func TestMailSMTPDown(t *testing.T) {
	smtpd := startSMTP(t)
	smtpd.Down()
	auth := mailAuth(t, smtpd.URL(), 2*time.Second)
	c := newClient(t)
	var users []account
	for _, name := range []string{"outage1", "outage2", "outage3"} {
		users = append(users, c.signup(auth.URL, name)) // 201, while no mail can be sent
	}
	if !poll(20*time.Second, func() bool { _, e := mailStatus(t, auth); return e != "" }) {
		t.Fatal("no failed attempt recorded while the SMTP server was down")
	}
	if pending, lastErr := mailStatus(t, auth); pending != 3 {
		t.Errorf("mail status: %d pending (last error %q), want 3", pending, lastErr)
	}
	smtpd.Up()
	for _, u := range users {
		smtpd.Wait(u.Email, 1, 60*time.Second)
	}
	if !poll(20*time.Second, func() bool { p, _ := mailStatus(t, auth); return p == 0 }) {
		t.Fatal("queue not drained")
	}
	for _, u := range users {
		if n := len(smtpd.To(u.Email)); n != 1 {
			t.Errorf("%s received %d mails, want 1", u.Email, n)
		}
	}
}

// TestMailSMTPStalls: while the SMTP server holds a message unanswered, signups and reset
// requests are answered as usual.
func TestMailSMTPStalls(t *testing.T) {
	smtpd := startSMTP(t)
	smtpd.Stall()
	auth := mailAuth(t, smtpd.URL(), 30*time.Second)
	c := newClient(t)
	first := c.signup(auth.URL, "stall1")
	if !poll(20*time.Second, func() bool { return smtpd.Stalled() > 0 }) {
		t.Fatal("the relay never reached the stalled server")
	}
	for i, name := range []string{"stall2", "stall3", "stall4"} {
		c.signup(auth.URL, name)
		c.PostJSON(auth.URL+"/password/forgot", map[string]string{"email": first.Email}).Want(t, http.StatusAccepted)
		if smtpd.Stalled() == 0 {
			t.Fatalf("request %d: the stall ended before the requests did", i)
		}
	}
	smtpd.Release()
	smtpd.Wait("stall4@example.com", 1, 60*time.Second)
}

// TestMailRelaySIGKILL: the auth server is killed while the SMTP server holds its message; after
// a restart the mail still goes out (at most one duplicate: the server may have kept the
// message the killed relay never heard acknowledged).
func TestMailRelaySIGKILL(t *testing.T) {
	smtpd := startSMTP(t)
	smtpd.Stall()
	auth := mailAuth(t, smtpd.URL(), 2*time.Second)
	c := newClient(t)
	a := c.signup(auth.URL, "killed")
	if !poll(20*time.Second, func() bool { return smtpd.Stalled() > 0 }) {
		t.Fatal("the relay never reached the stalled server")
	}
	auth.Kill()
	smtpd.Release() // the stalled session records its message: the possible duplicate
	auth.Start()
	// The killed relay's lease runs out (2×3×SMTP_TIMEOUT), then the restarted one sends.
	if !poll(60*time.Second, func() bool { p, _ := mailStatus(t, auth); return p == 0 }) {
		t.Fatal("the mail was never sent after the restart")
	}
	got := smtpd.To(a.Email)
	if len(got) < 1 || len(got) > 2 {
		t.Fatalf("%d copies received, want 1 or 2", len(got))
	}
	t.Logf("%d copies received (the second is the documented duplicate)", len(got))
	mailToken(t, got[len(got)-1], "verify")
}

// TestMailLoggedWithoutSMTP: on the embedded default (no SMTP_URL) each mail is written to the
// log with its recipient, subject and link, and the walkthrough's "forgot password" works by
// following the logged link.
func TestMailLoggedWithoutSMTP(t *testing.T) {
	auth := startAuth(t, map[string]string{"KEY_ENCRYPTION_KEY": ""})
	c := newClient(t)
	a := c.signup(auth.URL, "loggeduser")
	c.PostJSON(auth.URL+"/password/forgot", map[string]string{"email": a.Email}).Want(t, http.StatusAccepted)
	c.PostJSON(auth.URL+"/password/forgot", map[string]string{"email": "nobody@example.com"}).Want(t, http.StatusAccepted)
	var tok string
	if !poll(20*time.Second, func() bool { tok = loggedToken(auth.Output(), a.Email, "reset"); return tok != "" }) {
		t.Fatalf("no reset link logged for %s", a.Email)
	}
	if loggedToken(auth.Output(), a.Email, "verify") == "" {
		t.Error("no verification link logged for the signup")
	}
	c.PostJSON(auth.URL+"/password/reset", map[string]string{"token": tok, "new_password": "the logged way"}).Want(t, http.StatusNoContent)
	a.Password = "the logged way"
	c.login(auth.URL, a)
	if strings.Contains(auth.Output(), `"to":"nobody@example.com"`) {
		t.Error("a mail was logged for an unknown address")
	}
}

// loggedToken finds, in a JSON log, the token of the last mail to addr linking to /ui/page.
func loggedToken(out, addr, page string) string {
	tok := ""
	for line := range strings.SplitSeq(out, "\n") {
		var rec struct {
			Msg, To, Link string
		}
		start := strings.IndexByte(line, '{')
		if start < 0 || json.Unmarshal([]byte(line[start:]), &rec) != nil || rec.To != addr {
			continue
		}
		if m := linkToken.FindStringSubmatch(rec.Link); m != nil && m[1] == page {
			tok = m[2]
		}
	}
	return tok
}

// TestMailResetRevokesAtResourceServer: a password reset ends every session, and the resource
// server refuses the old access tokens within 2 s (CONTRACT §10, §11), the link coming from the
// logged mail.
func TestMailResetRevokesAtResourceServer(t *testing.T) {
	s := startStack(t, StackOptions{})
	c := newClient(t)
	a := c.signup(s.Auth.URL, "resetrev")
	second := c.login(s.Auth.URL, a)
	accepted(t, c, s.Resource.URL, "/whoami", a.Tokens.AccessToken, "before")
	c.PostJSON(s.Auth.URL+"/password/forgot", map[string]string{"email": a.Email}).Want(t, http.StatusAccepted)
	var tok string
	if !poll(20*time.Second, func() bool { tok = loggedToken(s.Auth.Output(), a.Email, "reset"); return tok != "" }) {
		t.Fatal("no reset link logged")
	}
	c.PostJSON(s.Auth.URL+"/password/reset", map[string]string{"token": tok, "new_password": "reset and revoked"}).Want(t, http.StatusNoContent)
	at := time.Now()
	for _, old := range []string{a.Tokens.AccessToken, second.AccessToken} {
		took := revokedWithin(t, c, s.Resource.URL, "/whoami", old, at, revocationBound, "password reset")
		t.Logf("refused %s after the reset", took.Round(time.Millisecond))
	}
}
