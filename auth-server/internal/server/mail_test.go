package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/mail"
	"github.com/jwtauth/jwtauth/auth-server/internal/mailrelay"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// The rules of CONTRACT §11, through the HTTP API, with the real mail relay sending into a
// recorder (the SMTP path itself is tested end to end in e2e/mail_test.go).

// outbox records the mails the relay sends.
type outbox struct {
	mu    sync.Mutex
	mails []store.Mail
}

func (o *outbox) Send(_ context.Context, m store.Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

// to returns the mails sent to addr so far.
func (o *outbox) to(addr string) []store.Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []store.Mail
	for _, m := range o.mails {
		if m.Recipient == addr {
			out = append(out, m)
		}
	}
	return out
}

// waitMails waits until addr has received n mails and returns them.
func (o *outbox) waitMails(t testing.TB, addr string, n int) []store.Mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := o.to(addr); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s received %d mails, want %d", addr, len(o.to(addr)), n)
	return nil
}

// withMail turns mail on in the account service.
func withMail(require bool) option {
	return func(c *envConfig) {
		c.account.Mail = account.MailPolicy{Writer: mail.NewWriter("Test Auth", "http://auth.test"), RequireVerified: require}
	}
}

// startMail runs a mail relay for e into a recorder until the test ends.
func startMail(t testing.TB, e *env) *outbox {
	o := &outbox{}
	r := mailrelay.New(mailrelay.Config{PollInterval: 5 * time.Millisecond, RetryBase: 10 * time.Millisecond},
		mailrelay.Deps{Store: e.store, Sender: o, Resolver: e.accounts, Now: e.clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

// drained waits until the queue holds nothing unsent (every request resolved, every mail sent).
func (e *env) drained(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := e.store.MailQueueStatus(context.Background())
		if err == nil && st.Pending == 0 && st.Requests == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("mail queue not drained")
}

func tokenOf(t testing.TB, m store.Mail) string {
	t.Helper()
	u, err := url.Parse(m.Link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("no token in link %q", m.Link)
	}
	if !strings.Contains(m.Text, m.Link) || !strings.Contains(m.HTML, m.Link) {
		t.Errorf("the link is missing from a part of the mail")
	}
	return u.Query().Get("token")
}

func TestEmailVerification(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(false))
		o := startMail(t, e)
		s := e.signup("verity", "verity@example.com", "password-1")
		if v, _ := s.Body["user"].(map[string]any)["email_verified"].(bool); v {
			t.Fatal("a new address is verified")
		}
		m := o.waitMails(t, "verity@example.com", 1)[0]
		if !strings.HasPrefix(m.Link, "http://auth.test/ui/verify?token=") || !strings.Contains(m.Subject, "Test Auth") {
			t.Errorf("mail = %q %q", m.Subject, m.Link)
		}
		tok := tokenOf(t, m)
		if r := e.do("POST", "/email/verify", map[string]string{"token": "not-a-token"}); r.Status != 400 || r.str("error") != "invalid_token" {
			t.Errorf("bad token: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/email/verify", map[string]string{"token": tok}); r.Status != http.StatusNoContent {
			t.Fatalf("verify: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/email/verify", map[string]string{"token": tok}); r.Status != 400 || r.str("error") != "invalid_token" {
			t.Errorf("used token: %d %s", r.Status, r.Raw)
		}
		l := e.login("verity", "password-1")
		at := l.str("access_token")
		if me := e.do("GET", "/me", nil, bearer(at)...); me.Body["email_verified"] != true {
			t.Errorf("/me after verification: %s", me.Raw)
		}
		if c := claims(t, at); c["email_verified"] != true {
			t.Errorf("access token claims: %v", c)
		}
		// A session started before the verification refreshes into tokens that say so.
		rf := e.do("POST", "/refresh", map[string]string{"refresh_token": s.str("refresh_token")})
		if c := claims(t, rf.str("access_token")); rf.Status != 200 || c["email_verified"] != true {
			t.Errorf("refreshed token: %d %v", rf.Status, c)
		}
		// A verified address gets no further mail from resend.
		if r := e.do("POST", "/email/verify/resend", nil, bearer(at)...); r.Status != http.StatusAccepted {
			t.Errorf("resend: %d %s", r.Status, r.Raw)
		}
		e.drained(t)
		if n := len(o.to("verity@example.com")); n != 1 {
			t.Errorf("%d mails, want 1", n)
		}
		// An email change is unverified until the new address's link is used; the old
		// address's links stop working.
		r := e.do("PATCH", "/me", map[string]string{"email": "verity2@example.com"}, bearer(at)...)
		if r.Status != 200 || r.Body["email_verified"] != false {
			t.Fatalf("PATCH /me: %d %s", r.Status, r.Raw)
		}
		m2 := o.waitMails(t, "verity2@example.com", 1)[0]
		if r := e.do("POST", "/email/verify", map[string]string{"token": tokenOf(t, m2)}); r.Status != http.StatusNoContent {
			t.Fatalf("verify new address: %d %s", r.Status, r.Raw)
		}
		if me := e.do("GET", "/me", nil, bearer(at)...); me.Body["email_verified"] != true || me.Body["email"] != "verity2@example.com" {
			t.Errorf("/me: %s", me.Raw)
		}
	})
}

func TestResendAndSupersededVerification(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(false))
		o := startMail(t, e)
		at := e.signup("again", "again@example.com", "password-1").str("access_token")
		first := o.waitMails(t, "again@example.com", 1)[0]
		if r := e.do("POST", "/email/verify/resend", nil, bearer(at)...); r.Status != http.StatusAccepted {
			t.Fatalf("resend: %d %s", r.Status, r.Raw)
		}
		second := o.waitMails(t, "again@example.com", 2)[1]
		if r := e.do("POST", "/email/verify", map[string]string{"token": tokenOf(t, first)}); r.Status != 400 {
			t.Errorf("superseded verification token: %d %s", r.Status, r.Raw)
		}
		// Resend is throttled at 5 mails an hour to one recipient: 4 more pass, the 6th is 429.
		for i := range 5 {
			r := e.do("POST", "/email/verify/resend", nil, bearer(at)...)
			if want := map[bool]int{true: 429, false: 202}[i == 4]; r.Status != want {
				t.Fatalf("resend %d: %d %s, want %d", i+2, r.Status, r.Raw, want)
			}
			if i == 4 && r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
		e.clock.Advance(61 * time.Minute)
		if r := e.do("POST", "/email/verify/resend", nil, bearer(e.login("again", "password-1").str("access_token"))...); r.Status != http.StatusAccepted {
			t.Errorf("resend an hour later: %d %s", r.Status, r.Raw)
		}
		_ = second
	})
}

func TestPasswordReset(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(false))
		o := startMail(t, e)
		s := e.signup("forgot", "forgot@example.com", "password-1")
		o.waitMails(t, "forgot@example.com", 1)
		for _, addr := range []string{"forgot@example.com", "nobody@example.com"} {
			if r := e.do("POST", "/password/forgot", map[string]string{"email": addr}); r.Status != http.StatusAccepted {
				t.Fatalf("forgot %s: %d %s", addr, r.Status, r.Raw)
			}
		}
		e.drained(t)
		if n := len(o.to("nobody@example.com")); n != 0 {
			t.Errorf("an unknown address got %d mails", n)
		}
		reset := o.waitMails(t, "forgot@example.com", 2)[1]
		if !strings.HasPrefix(reset.Link, "http://auth.test/ui/reset?token=") {
			t.Errorf("reset link %q", reset.Link)
		}
		older := tokenOf(t, reset)
		// A newer request voids the older token.
		e.do("POST", "/password/forgot", map[string]string{"email": "FORGOT@example.com"})
		tok := tokenOf(t, o.waitMails(t, "forgot@example.com", 3)[2])
		if r := e.do("POST", "/password/reset", map[string]string{"token": older, "new_password": "password-2"}); r.Status != 400 || r.str("error") != "invalid_token" {
			t.Errorf("superseded reset token: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/password/reset", map[string]string{"token": tok, "new_password": "short"}); r.Status != 400 || r.str("error") != "invalid_password" {
			t.Errorf("short password: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/password/reset", map[string]string{"token": tok, "new_password": "password-2"}); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/password/reset", map[string]string{"token": tok, "new_password": "password-3"}); r.Status != 400 {
			t.Errorf("used reset token: %d %s", r.Status, r.Raw)
		}
		// Every session ended; the new password works, the old does not; the address is verified.
		if r := e.do("POST", "/refresh", map[string]string{"refresh_token": s.str("refresh_token")}); r.Status != 400 {
			t.Errorf("refresh after reset: %d %s", r.Status, r.Raw)
		}
		if r := e.login("forgot", "password-1"); r.Status != 401 {
			t.Errorf("old password: %d", r.Status)
		}
		l := e.login("forgot", "password-2")
		if me := e.do("GET", "/me", nil, bearer(l.str("access_token"))...); me.Body["email_verified"] != true {
			t.Errorf("/me after reset: %s", me.Raw)
		}
		// Expired: PASSWORD_RESET_TTL (30m) after the mail.
		e.do("POST", "/password/forgot", map[string]string{"email": "forgot@example.com"})
		late := tokenOf(t, o.waitMails(t, "forgot@example.com", 4)[3])
		e.clock.Advance(31 * time.Minute)
		if r := e.do("POST", "/password/reset", map[string]string{"token": late, "new_password": "password-4"}); r.Status != 400 {
			t.Errorf("expired reset token: %d %s", r.Status, r.Raw)
		}
		if r := e.do("POST", "/password/forgot", map[string]string{"email": "not an address"}); r.Status != 400 {
			t.Errorf("malformed address: %d", r.Status)
		}
	})
}

func TestForgotThrottle(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(false))
		o := startMail(t, e)
		e.signup("spammed", "spammed@example.com", "password-1")
		o.waitMails(t, "spammed@example.com", 1)
		for range 7 {
			if r := e.do("POST", "/password/forgot", map[string]string{"email": "spammed@example.com"}); r.Status != http.StatusAccepted {
				t.Fatalf("forgot: %d %s", r.Status, r.Raw)
			}
		}
		e.drained(t)
		if n := len(o.to("spammed@example.com")) - 1; n != 5 {
			t.Errorf("%d reset mails from 7 requests, want 5", n)
		}
		// The client address has spent its 5 too: another user's address gets nothing from it.
		e.signup("other", "other@example.com", "password-1")
		e.do("POST", "/password/forgot", map[string]string{"email": "other@example.com"})
		e.drained(t)
		if n := len(o.to("other@example.com")); n != 1 {
			t.Errorf("other: %d mails, want only the verification", n)
		}
	})
}

func TestRequireEmailVerification(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(true))
		o := startMail(t, e)
		e.signup("strict", "strict@example.com", "password-1")
		if r := e.login("strict", "wrong-password"); r.Status != 401 {
			t.Errorf("wrong password: %d", r.Status)
		}
		if r := e.login("strict", "password-1"); r.Status != 403 || r.str("error") != "email_not_verified" {
			t.Errorf("unverified: %d %s", r.Status, r.Raw)
		}
		tok := tokenOf(t, o.waitMails(t, "strict@example.com", 1)[0])
		e.do("POST", "/email/verify", map[string]string{"token": tok})
		if r := e.login("strict", "password-1"); r.Status != 200 {
			t.Errorf("verified: %d %s", r.Status, r.Raw)
		}
	})
}

func TestAdminEmailVerified(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withMail(false))
		o := startMail(t, e)
		admin := e.adminToken()
		id := e.signup("managed", "managed@example.com", "password-1").Body["user"].(map[string]any)["id"].(string)
		r := e.do("PATCH", "/admin/users/"+id, map[string]any{"email_verified": true}, bearer(admin)...)
		if r.Status != 200 || r.Body["email_verified"] != true {
			t.Fatalf("admin verify: %d %s", r.Status, r.Raw)
		}
		r = e.do("PATCH", "/admin/users/"+id, map[string]any{"email": "moved@example.com"}, bearer(admin)...)
		if r.Status != 200 || r.Body["email_verified"] != false {
			t.Fatalf("admin email change: %d %s", r.Status, r.Raw)
		}
		o.waitMails(t, "moved@example.com", 1)
		if g := e.do("GET", "/admin/users/"+id, nil, bearer(admin)...); g.Body["email_verified"] != false {
			t.Errorf("admin get: %s", g.Raw)
		}
	})
}
