package main

import (
	"log/slog"

	"github.com/jwtauth/jwtauth/auth-server/internal/mailrelay"
)

// newMailRelay is the mail relay of this process, sending through SMTP_URL or, without it,
// logging each mail at info level. The caller runs it (serve, until its context ends); every
// replica runs one, and they share the queue through leases.
func newMailRelay(a *app, resolver mailrelay.Resolver, log *slog.Logger) (*mailrelay.Relay, error) {
	mc := a.cfg.Mail
	log = log.With("component", "mail_relay")
	var sender mailrelay.Sender = mailrelay.Log{Logger: log}
	if mc.SMTPURL != "" {
		s, err := mailrelay.NewSMTP(mailrelay.SMTPConfig{URL: mc.SMTPURL, From: mc.From, Timeout: mc.SMTPTimeout})
		if err != nil {
			return nil, err
		}
		sender = s
	}
	// One mail's whole exchange: connect, greet (and STARTTLS), envelope, data, each bounded
	// by SMTP_TIMEOUT; its lease is twice that (mailrelay.Config).
	return mailrelay.New(mailrelay.Config{SendTimeout: 3 * mc.SMTPTimeout}, mailrelay.Deps{
		Store: a.store, Sender: sender, Resolver: resolver, Log: log,
	}), nil
}
