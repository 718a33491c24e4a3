package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

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
		replays, err := a.store.Replays(ctx)
		if err != nil {
			return fmt.Errorf("sync status: %w", err)
		}
		return printSyncStatus(stdout, syncRows(cfg.SyncURLs, st, replays, time.Now()), *asJSON)
	}
	if len(cfg.SyncURLs) == 0 {
		return errors.New("sync replay: no sync targets are configured (SYNC_URLS)")
	}
	r, err := a.store.EnqueueRevocationReplay(ctx, cfg.SyncURLs, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("sync replay: queue the revocations: %w (running it again is safe)", err)
	}
	n, err := a.store.StartReplay(ctx, cfg.SyncURLs, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("sync replay: %d revocations queued, then starting the users' replay failed: %w (running it again is safe)", r, err)
	}
	targets := fmt.Sprintf("%d sync targets", len(cfg.SyncURLs))
	if len(cfg.SyncURLs) == 1 {
		targets = "1 sync target"
	}
	fmt.Fprintf(stdout, "replaying %d users and %d revocations in force to %s; the running auth servers deliver them (watch with: auth-server sync status)\n", n, r, targets)
	return nil
}

// syncStatusRow is one target in `sync status`. Pending counts its undelivered deliveries
// and the users its replay has still to send; the oldest fields describe the oldest
// delivery, and the replay fields the replay in progress.
type syncStatusRow struct {
	Target          string        `json:"target"`
	Configured      bool          `json:"configured"`
	Pending         int           `json:"pending"`
	OldestAgeSecs   *float64      `json:"oldest_age_seconds"`
	OldestCreatedAt *string       `json:"oldest_created_at"`
	OldestEventID   string        `json:"oldest_event_id,omitempty"`
	OldestUserID    string        `json:"oldest_user_id,omitempty"`
	OldestVersion   int64         `json:"oldest_version,omitempty"`
	OldestAttempts  int           `json:"oldest_attempts"`
	OldestNextTry   *string       `json:"oldest_next_attempt_at"`
	OldestLastError string        `json:"oldest_last_error"`
	Replay          *replayStatus `json:"replay"`
}

// replayStatus is a target's replay in progress in `sync status`.
type replayStatus struct {
	Sent      int    `json:"sent"`
	Total     int    `json:"total"`
	StartedAt string `json:"started_at"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// syncRows lists every configured target (pending or not) and every target with pending
// deliveries or a replay that is no longer configured (those are not being delivered).
func syncRows(targets []string, st []store.TargetStatus, replays []store.Replay, now time.Time) []syncStatusRow {
	byTarget := map[string]store.TargetStatus{}
	for _, s := range st {
		byTarget[s.Target] = s
	}
	replayOf := map[string]store.Replay{}
	for _, r := range replays {
		replayOf[r.Target] = r
	}
	var order []string
	listed := map[string]bool{}
	list := func(t string) {
		if !listed[t] {
			listed[t] = true
			order = append(order, t)
		}
	}
	for _, t := range targets {
		list(t)
	}
	configured := maps.Clone(listed)
	for _, s := range st {
		list(s.Target)
	}
	for _, r := range replays {
		list(r.Target)
	}
	rows := make([]syncStatusRow, 0, len(order))
	for _, t := range order {
		s := byTarget[t]
		r := syncStatusRow{Target: redactURL(t), Configured: configured[t], Pending: s.Pending}
		oldest := s.OldestCreatedAt
		if s.Pending > 0 {
			r.OldestCreatedAt, r.OldestNextTry = ts(s.OldestCreatedAt), ts(s.OldestNextAttempt)
			r.OldestEventID, r.OldestUserID, r.OldestVersion = s.OldestEventID, s.OldestUserID, s.OldestVersion
			r.OldestAttempts, r.OldestLastError = s.OldestAttempts, s.OldestLastError
		}
		if rp, ok := replayOf[t]; ok {
			r.Pending += max(rp.Total-rp.Sent, 0)
			r.Replay = &replayStatus{Sent: rp.Sent, Total: rp.Total, StartedAt: rp.StartedAt.Format(time.RFC3339),
				Attempts: rp.Attempts, LastError: rp.LastError}
			if s.Pending == 0 || rp.StartedAt.Before(oldest) {
				oldest = rp.StartedAt
			}
		}
		if s.Pending > 0 || r.Replay != nil {
			age := max(now.Sub(oldest), 0).Seconds()
			r.OldestAgeSecs = &age
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
	fmt.Fprintln(tw, "TARGET\tPENDING\tOLDEST_AGE\tATTEMPTS\tNEXT_ATTEMPT\tLAST_ERROR\tREPLAY")
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
		replay := "-"
		if p := r.Replay; p != nil {
			replay = fmt.Sprintf("%d of %d users sent", p.Sent, p.Total)
			if p.LastError != "" {
				replay += fmt.Sprintf(" (%d failed calls: %s)", p.Attempts, p.LastError)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", target, r.Pending, age, attempts, dash(r.OldestNextTry), lastErr, replay)
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
