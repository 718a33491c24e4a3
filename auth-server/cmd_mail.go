package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// mailStatusJSON is `mail status --json`.
type mailStatusJSON struct {
	Pending         int     `json:"pending"`
	Requests        int     `json:"reset_requests_pending"`
	Sent            int     `json:"sent_kept"`
	SMTP            bool    `json:"smtp_configured"`
	OldestID        string  `json:"oldest_id,omitempty"`
	OldestKind      string  `json:"oldest_kind,omitempty"`
	OldestAgeSecs   float64 `json:"oldest_age_seconds"`
	OldestAttempts  int     `json:"oldest_attempts"`
	OldestLastError string  `json:"oldest_last_error"`
	OldestNextTry   string  `json:"oldest_next_attempt_at,omitempty"`
}

// mailCommand runs `auth-server mail status [--json]`.
func mailCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "status" {
		return errors.New("mail: want status")
	}
	fs := flag.NewFlagSet("mail status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	st, err := a.store.MailQueueStatus(ctx)
	if err != nil {
		return fmt.Errorf("mail status: %w", err)
	}
	out := mailStatusJSON{Pending: st.Pending, Requests: st.Requests, Sent: st.Sent, SMTP: cfg.Mail.SMTPURL != "",
		OldestID: st.OldestID, OldestKind: st.OldestKind, OldestAttempts: st.OldestAttempts, OldestLastError: st.OldestLastError}
	if st.Pending > 0 {
		out.OldestAgeSecs = max(time.Since(st.OldestCreatedAt), 0).Seconds()
		out.OldestNextTry = st.OldestNextAttempt.UTC().Format(time.RFC3339)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	via := "SMTP_URL"
	if !out.SMTP {
		via = "the log (SMTP_URL is not set)"
	}
	fmt.Fprintf(stdout, "pending %d, sent (kept) %d, reset requests to resolve %d, sent through %s\n", out.Pending, out.Sent, out.Requests, via)
	if st.Pending > 0 {
		fmt.Fprintf(stdout, "oldest %s (%s): %.0fs old, %d failed attempts, next at %s, last error: %s\n",
			out.OldestID, out.OldestKind, out.OldestAgeSecs, out.OldestAttempts, out.OldestNextTry, orDash(out.OldestLastError))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
