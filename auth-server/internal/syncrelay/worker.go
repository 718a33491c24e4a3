package syncrelay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// errStatus is wrapped by the error of a call that got a non-2xx answer.
var errStatus = errors.New("target answered")

// markTimeout bounds recording an outcome, which is done even while the relay stops so an
// acknowledged batch is not sent again.
const markTimeout = 5 * time.Second

// worker delivers the outbox of one target.
type worker struct {
	target string
	label  string // target with any password hidden, for logs and metrics
	cfg    Config
	deps   Deps
	wake   chan struct{}
	log    *slog.Logger
}

// outcome is what one round did.
type outcome struct {
	sent   int   // events acknowledged
	err    error // nil when nothing failed
	target bool  // err is the target's failure (not the database's or the signer's)
}

// run loops until ctx ends (Loop): deliver while there is due work; when there is none, wait
// for a Notify or the poll interval; after a failure, back off (ignoring Notify) with the
// number of consecutive failures. A failure of the target halves the batch, a success
// doubles it back.
func (w *worker) run(ctx context.Context) {
	batch := w.cfg.BatchSize
	l := Loop{Backoff: Backoff{Base: w.cfg.RetryBase, Max: w.cfg.RetryMax}, PollInterval: w.cfg.PollInterval,
		Wake: w.wake, Rand: w.deps.Rand,
		OnFailure: func(err error, failures int, wait time.Duration) {
			w.log.Warn("sync delivery failed", "err", err, "consecutive_failures", failures, "retry_in", wait.Round(time.Millisecond).String())
		}}
	l.Run(ctx, func(ctx context.Context) Round {
		o := w.round(ctx, batch)
		switch {
		case ctx.Err() != nil:
		case o.err != nil:
			if o.target {
				batch = max(1, batch/2)
			}
		case o.sent > 0:
			batch = min(w.cfg.BatchSize, batch*2)
		}
		return Round{Progress: o.sent > 0, Err: o.err}
	})
}

// sleep waits d, or until wake fires (a nil wake never does); false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// round claims up to limit due deliveries, sends them in one call and records the outcome.
func (w *worker) round(ctx context.Context, limit int) outcome {
	ds, err := w.deps.Store.ClaimDeliveries(ctx, w.target, w.deps.Now(), w.cfg.Lease, limit)
	if err != nil || len(ds) == 0 {
		return outcome{err: wrapIf("claim deliveries", err)}
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	ds, rest := fit(ds, w.cfg.MaxBatchBytes)
	w.release(mctx, eventIDs(rest))
	ids := eventIDs(ds)
	body, err := batchBody(ds)
	if err != nil {
		w.release(mctx, ids)
		return outcome{err: err}
	}
	token, err := w.deps.Tokens.Sync(body)
	if err != nil {
		w.release(mctx, ids)
		return outcome{err: fmt.Errorf("sign sync token: %w", err)}
	}
	start := time.Now()
	sendErr := w.send(ctx, token, body)
	switch {
	case sendErr == nil:
		w.deps.Observer.Delivered(w.label, len(ds))
		w.log.Debug("sync delivered", "events", len(ds), "took", time.Since(start).String())
		if err := w.deps.Store.MarkDelivered(mctx, w.target, ids, w.deps.Now()); err != nil {
			// Sent again once the lease expires; the target ignores what it already has.
			return outcome{err: fmt.Errorf("mark delivered: %w", err)}
		}
		return outcome{sent: len(ds)}
	case ctx.Err() != nil:
		w.release(mctx, ids) // stopping: not the target's fault, no attempt counted
		return outcome{err: ctx.Err()}
	}
	w.deps.Observer.Failed(w.label, len(ds))
	now := w.deps.Now()
	retries := make([]store.Retry, len(ds))
	backoff := Backoff{Base: w.cfg.RetryBase, Max: w.cfg.RetryMax}
	for i, d := range ds {
		retries[i] = store.Retry{EventID: d.EventID, At: now.Add(backoff.Delay(d.Attempts+1, w.deps.Rand()))}
	}
	if err := w.deps.Store.MarkFailed(mctx, w.target, retries, sendErr.Error()); err != nil {
		w.log.Warn("sync failure not recorded; retried after the lease", "err", err)
	}
	return outcome{err: fmt.Errorf("%d events: %w", len(ds), sendErr), target: true}
}

// fit splits ds into the longest prefix (at least one) whose batch body stays within
// maxBytes, and the rest.
func fit(ds []store.Delivery, maxBytes int) (batch, rest []store.Delivery) {
	size := len(`{"events":[]}`)
	for i, d := range ds {
		size += len(d.Payload) + 1
		if i > 0 && size > maxBytes {
			return ds[:i], ds[i:]
		}
	}
	return ds, nil
}

func eventIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

func (w *worker) release(ctx context.Context, eventIDs []string) {
	if len(eventIDs) == 0 {
		return
	}
	if err := w.deps.Store.ReleaseDeliveries(ctx, w.target, eventIDs, w.deps.Now()); err != nil {
		w.log.Info("sync deliveries not released; retried after the lease", "err", err)
	}
}

// send POSTs one batch with the token and succeeds on a 2xx answer only.
func (w *worker) send(ctx context.Context, token string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "jwtauth-auth-server/user-sync")
	resp, err := w.deps.Client.Do(req)
	if err != nil {
		return err // a *url.Error: "Post \"URL\": cause", any password hidden
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w %s: %s", errStatus, resp.Status, printable(head))
	}
	return nil
}

// batchBody is the request body carrying ds: {"events": [...]}.
func batchBody(ds []store.Delivery) ([]byte, error) {
	events := make([]json.RawMessage, len(ds))
	for i, d := range ds {
		events[i] = d.Payload
	}
	body, err := json.Marshal(struct {
		Events []json.RawMessage `json:"events"`
	}{events})
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return body, nil
}

// printable keeps the start of a response body fit for a log line and the last_error column.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
}

// redact hides a password in a target URL, for logs.
func redact(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "invalid-url"
	}
	return u.Redacted()
}

func wrapIf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
