package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// Each bad email setting stops the server at start with one line naming the variable.
func TestMailConfigErrorsNameTheVariable(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	for _, tc := range []struct {
		variable string
		env      []string
	}{
		{"SMTP_URL", []string{"SMTP_URL", "http://mail.example"}},
		{"SMTP_URL", []string{"SMTP_URL", "smtp://"}},
		{"SMTP_URL", []string{"SMTP_URL", "smtp://mail.example:99999"}},
		{"SMTP_TIMEOUT", []string{"SMTP_TIMEOUT", "0s"}},
		{"SMTP_TIMEOUT", []string{"SMTP_TIMEOUT", "soon"}},
		{"MAIL_FROM", []string{"MAIL_FROM", "not an address"}},
		{"PUBLIC_URL", []string{"PUBLIC_URL", "ftp://auth.example"}},
		{"REQUIRE_EMAIL_VERIFICATION", []string{"REQUIRE_EMAIL_VERIFICATION", "maybe"}},
		{"PASSWORD_RESET_TTL", []string{"PASSWORD_RESET_TTL", "0s"}},
	} {
		t.Run(tc.variable+"="+tc.env[len(tc.env)-1], func(t *testing.T) {
			_, _, err := loadConfig(nil, envOf(tc.env...), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.variable+":") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not name %s on one line", err, tc.variable)
			}
		})
	}
}

func TestMailConfigDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	c, _, err := loadConfig(nil, envOf("AUTH_ISSUER", "https://auth.example.com/"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := mailConfig{SMTPTimeout: 10 * time.Second, From: "no-reply@auth.example.com",
		PublicURL: "https://auth.example.com", ResetTTL: 30 * time.Minute}
	if c.Mail != want {
		t.Errorf("mail config = %+v, want %+v", c.Mail, want)
	}
	c, _, err = loadConfig(nil, envOf("SMTP_URL", "smtps://u:p@mail.example", "REQUIRE_EMAIL_VERIFICATION", "true",
		"PUBLIC_URL", "https://id.example", "MAIL_FROM", "Example <id@example.com>"), io.Discard)
	if err != nil || !c.Mail.RequireVerified || c.Mail.PublicURL != "https://id.example" || c.Mail.From != "Example <id@example.com>" {
		t.Errorf("mail config = %+v, %v", c.Mail, err)
	}
}
