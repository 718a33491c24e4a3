package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// replayPage is how many users `sync replay` queues per transaction.
const replayPage = 500

// syncCommand runs `auth-server sync status [--json]` and `auth-server sync replay`.
func syncCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("sync: want status or replay")
	}
	fs := flag.NewFlagSet("sync "+args[0], flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON (status)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] != "status" && args[0] != "replay" {
		return fmt.Errorf("sync: unknown subcommand %q (want status or replay)", args[0])
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if args[0] == "status" {
		st, err := a.store.OutboxStatus(ctx)
		if err != nil {
			return fmt.Errorf("sync status: %w", err)
		}
		return printSyncStatus(stdout, syncRows(cfg.SyncURLs, st, time.Now()), *asJSON)
	}
	if len(cfg.SyncURLs) == 0 {
		return errors.New("sync replay: no sync targets are configured (SYNC_URLS)")
	}
	n, err := a.store.EnqueueReplay(ctx, cfg.SyncURLs, time.Now().UTC(), replayPage)
	if err != nil {
		return fmt.Errorf("sync replay: %d users queued before: %w (running it again is safe)", n, err)
	}
	r, err := a.store.EnqueueRevocationReplay(ctx, cfg.SyncURLs, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("sync replay: %d users queued, then the revocations failed: %w (running it again is safe)", n, err)
	}
	fmt.Fprintf(stdout, "queued %d users and %d revocations in force for %d sync targets; the running auth servers deliver them (watch with: auth-server sync status)\n", n, r, len(cfg.SyncURLs))
	return nil
}

// syncStatusRow is one target in `sync status`.
type syncStatusRow struct {
	Target          string   `json:"target"`
	Configured      bool     `json:"configured"`
	Pending         int      `json:"pending"`
	OldestAgeSecs   *float64 `json:"oldest_age_seconds"`
	OldestCreatedAt *string  `json:"oldest_created_at"`
	OldestEventID   string   `json:"oldest_event_id,omitempty"`
	OldestUserID    string   `json:"oldest_user_id,omitempty"`
	OldestVersion   int64    `json:"oldest_version,omitempty"`
	OldestAttempts  int      `json:"oldest_attempts"`
	OldestNextTry   *string  `json:"oldest_next_attempt_at"`
	OldestLastError string   `json:"oldest_last_error"`
}

// syncRows lists every configured target (pending or not) and every target with pending
// deliveries that is no longer configured (those are not being delivered).
func syncRows(targets []string, st []store.TargetStatus, now time.Time) []syncStatusRow {
	byTarget := map[string]store.TargetStatus{}
	for _, s := range st {
		byTarget[s.Target] = s
	}
	var order []string
	configured := map[string]bool{}
	for _, t := range targets {
		if !configured[t] {
			configured[t] = true
			order = append(order, t)
		}
	}
	for _, s := range st {
		if !configured[s.Target] {
			order = append(order, s.Target)
		}
	}
	rows := make([]syncStatusRow, 0, len(order))
	for _, t := range order {
		s := byTarget[t]
		r := syncStatusRow{Target: redactURL(t), Configured: configured[t], Pending: s.Pending}
		if s.Pending > 0 {
			age := max(now.Sub(s.OldestCreatedAt), 0).Seconds()
			r.OldestAgeSecs, r.OldestCreatedAt, r.OldestNextTry = &age, ts(s.OldestCreatedAt), ts(s.OldestNextAttempt)
			r.OldestEventID, r.OldestUserID, r.OldestVersion = s.OldestEventID, s.OldestUserID, s.OldestVersion
			r.OldestAttempts, r.OldestLastError = s.OldestAttempts, s.OldestLastError
		}
		rows = append(rows, r)
	}
	return rows
}

func printSyncStatus(w io.Writer, rows []syncStatusRow, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no sync targets configured and nothing pending")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tPENDING\tOLDEST_AGE\tATTEMPTS\tNEXT_ATTEMPT\tLAST_ERROR")
	for _, r := range rows {
		target := r.Target
		if !r.Configured {
			target += " (not configured: not delivered)"
		}
		age, attempts, lastErr := "-", "-", "-"
		if r.OldestAgeSecs != nil {
			age = (time.Duration(*r.OldestAgeSecs * float64(time.Second))).Round(time.Second).String()
			attempts = strconv.Itoa(r.OldestAttempts)
		}
		if r.OldestLastError != "" {
			lastErr = r.OldestLastError
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", target, r.Pending, age, attempts, dash(r.OldestNextTry), lastErr)
	}
	return tw.Flush()
}

// redactURL hides a password in a target URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
