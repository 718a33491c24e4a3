package mailrelay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// SMTPConfig is where and how mails are sent.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS when the server offers it; port 587 by
	// default) or smtps://… (implicit TLS; port 465 by default).
	URL string
	// From is the sender address (MAIL_FROM).
	From string
	// Timeout bounds each step of the exchange: connecting, each command, the data.
	Timeout time.Duration
}

// ParseSMTPURL checks an SMTP_URL and returns the go-mail options it stands for.
func ParseSMTPURL(raw string, timeout time.Duration) (host string, opts []gomail.Option, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, errors.New("not a URL (want smtp://user:pass@host:port or smtps://…)")
	}
	port := 587
	switch u.Scheme {
	case "smtp":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return "", nil, fmt.Errorf("scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", nil, errors.New("no host (want smtp://user:pass@host:port)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", nil, fmt.Errorf("port %q", p)
		}
		port = n
	}
	opts = append(opts, gomail.WithPort(port), gomail.WithTimeout(max(timeout, time.Millisecond)))
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	return u.Hostname(), opts, nil
}

// SMTP sends mails through an SMTP server with go-mail, one connection per mail.
type SMTP struct {
	cfg    SMTPConfig
	host   string
	domain string // of the Message-IDs: MAIL_FROM's
	opts   []gomail.Option
}

// NewSMTP returns the sender for cfg, or the error of its URL.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, opts, err := ParseSMTPURL(cfg.URL, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	domain := host
	if from, err := mail.ParseAddress(cfg.From); err == nil {
		if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
			domain = from.Address[i+1:]
		}
	}
	return &SMTP{cfg: cfg, host: host, domain: domain, opts: opts}, nil
}

// Send delivers m as multipart/alternative (text, then HTML), within ctx.
func (s *SMTP) Send(ctx context.Context, m store.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.Recipient); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(m.ID + "@" + s.domain) // the same id for a retry of the same mail
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// Log is the sender without SMTP_URL: it writes each mail's recipient, subject and link to the
// log at info level (so `make run` shows the link) and sends nothing.
type Log struct{ Logger *slog.Logger }

// Send logs m.
func (l Log) Send(_ context.Context, m store.Mail) error {
	l.Logger.Info("mail (SMTP_URL is not set, so it is logged instead of sent)",
		"to", m.Recipient, "subject", m.Subject, "link", m.Link)
	return nil
}
