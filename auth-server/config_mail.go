package main

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	mailtext "github.com/jwtauth/jwtauth/auth-server/internal/mail"
	"github.com/jwtauth/jwtauth/auth-server/internal/mailrelay"
	"github.com/jwtauth/jwtauth/internal/envconf"
)

// mailConfig is the email part of the configuration (CONTRACT §11).
type mailConfig struct {
	SMTPURL         string        // SMTP_URL; empty: mails are logged, not sent
	SMTPTimeout     time.Duration // SMTP_TIMEOUT: each step of an SMTP exchange
	From            string        // MAIL_FROM
	ProductName     string        // MAIL_PRODUCT_NAME; empty: the host of PUBLIC_URL
	PublicURL       string        // PUBLIC_URL: the base of the links in mails
	RequireVerified bool          // REQUIRE_EMAIL_VERIFICATION
	ResetTTL        time.Duration // PASSWORD_RESET_TTL
}

// loadMailConfig reads the email variables from src, recording bad values there.
func loadMailConfig(src *envconf.Source, issuer string) mailConfig {
	c := mailConfig{
		SMTPURL:     src.String("SMTP_URL", ""),
		SMTPTimeout: src.Duration("SMTP_TIMEOUT", 10*time.Second),
		ProductName: src.String("MAIL_PRODUCT_NAME", ""),
		PublicURL:   strings.TrimRight(src.String("PUBLIC_URL", issuer), "/"),
		ResetTTL:    src.Duration("PASSWORD_RESET_TTL", 30*time.Minute),
	}
	if c.SMTPURL != "" {
		if _, _, err := mailrelay.ParseSMTPURL(c.SMTPURL, c.SMTPTimeout); err != nil {
			src.Check("SMTP_URL", err)
		}
	}
	if c.SMTPTimeout <= 0 {
		src.Check("SMTP_TIMEOUT", errors.New("must be positive"))
	}
	src.Check("PUBLIC_URL", envconf.CheckHTTPURL(c.PublicURL))
	if c.ResetTTL <= 0 {
		src.Check("PASSWORD_RESET_TTL", errors.New("must be positive"))
	}
	if v := src.String("REQUIRE_EMAIL_VERIFICATION", "false"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			src.Check("REQUIRE_EMAIL_VERIFICATION", fmt.Errorf("%q is not true or false", v))
		}
		c.RequireVerified = b
	}
	c.From = src.String("MAIL_FROM", "")
	if c.From == "" {
		host := "localhost"
		if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		c.From = "no-reply@" + host
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		src.Check("MAIL_FROM", fmt.Errorf("%q is not a mail address: %w", c.From, err))
	}
	return c
}

// mailPolicy is the account service's email policy from the configuration.
func (c config) mailPolicy() account.MailPolicy {
	return account.MailPolicy{
		Writer:          mailtext.NewWriter(c.Mail.ProductName, c.Mail.PublicURL),
		ResetTTL:        c.Mail.ResetTTL,
		RequireVerified: c.Mail.RequireVerified,
	}
}
