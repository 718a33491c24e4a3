package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// The relay's side of the outbox: claiming due deliveries under a lease, recording their
// outcome, reporting the backlog, re-queuing every user, and purging what was delivered.

// Delivery is one event claimed for sending to one target.
type Delivery struct {
	EventID string
	UserID  string
	Version int64
	// Attempts counts the failed attempts recorded so far (0 for a first try).
	Attempts int
	// Payload is the event as it goes on the wire (a syncevent.Event in JSON).
	Payload json.RawMessage
}

// Retry schedules the next attempt of one delivery after a failure.
type Retry struct {
	EventID string
	At      time.Time
}

// TargetStatus is the backlog of one target: the undelivered deliveries and the oldest one.
type TargetStatus struct {
	Target  string
	Pending int
	// The oldest pending delivery (by creation); zero values when Pending is 0.
	OldestEventID     string
	OldestUserID      string
	OldestVersion     int64
	OldestCreatedAt   time.Time
	OldestAttempts    int
	OldestLastError   string
	OldestNextAttempt time.Time
}

// maxErrorLen bounds the last_error kept per delivery.
const maxErrorLen = 500

// ClaimDeliveries leases up to limit deliveries of target that are due at now and returns
// them, oldest due first. A delivery is offered only while no lower version of the same user
// is undelivered for target, so each user's events reach a target in version order. The
// lease (next_attempt_at = now + lease) is committed before this returns: other claimers,
// in this process or another replica, skip the rows until it expires, which is how the work
// of a replica that crashed mid-delivery comes back. On PostgreSQL concurrent claimers skip
// each other's locked rows (FOR UPDATE SKIP LOCKED) instead of waiting; on SQLite the claim
// holds the database's write lock.
func (s *Store) ClaimDeliveries(ctx context.Context, target string, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if s.db.Dialect == db.Postgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	query := s.q(`SELECT d.event_id, d.user_id, d.version, d.attempts, e.payload
FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id
WHERE d.target = ? AND d.delivered_at = 0 AND d.next_attempt_at <= ?
  AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p
    WHERE p.target = d.target AND p.user_id = d.user_id AND p.delivered_at = 0 AND p.version < d.version)
ORDER BY d.next_attempt_at, d.version
LIMIT ?` + lock)
	var out []Delivery
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = scanDeliveries(ctx, tx, query, target, ms(now), limit); err != nil || len(out) == 0 {
			return err
		}
		return s.setDeliveries(ctx, tx, target, ids(out), `next_attempt_at = ?`, ms(now.Add(lease)))
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

func scanDeliveries(ctx context.Context, tx *sqlx.Tx, query string, args ...any) ([]Delivery, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var payload string
		if err := rows.Scan(&d.EventID, &d.UserID, &d.Version, &d.Attempts, &payload); err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		d.Payload = json.RawMessage(payload)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// setDeliveries runs UPDATE … SET set WHERE target and event_id in eventIDs, still pending.
func (s *Store) setDeliveries(ctx context.Context, tx sqlx.ExecerContext, target string, eventIDs []string, set string, args ...any) error {
	query, inArgs, err := sqlx.In(`UPDATE outbox_deliveries SET `+set+` WHERE target = ? AND delivered_at = 0 AND event_id IN (?)`,
		append(args, target, eventIDs)...)
	if err != nil {
		return fmt.Errorf("update deliveries: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(query), inArgs...); err != nil {
		return fmt.Errorf("update deliveries: %w", err)
	}
	return nil
}

func ids(ds []Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

// MarkDelivered records that target acknowledged the events. Deliveries already marked (by
// another replica whose lease had expired) are left as they are.
func (s *Store) MarkDelivered(ctx context.Context, target string, eventIDs []string, now time.Time) error {
	if len(eventIDs) == 0 {
		return nil
	}
	if err := s.setDeliveries(ctx, s.db, target, eventIDs, `delivered_at = ?, last_error = ''`, ms(now)); err != nil {
		return classify(err)
	}
	return nil
}

// MarkFailed records a failed attempt of each delivery in retries: its attempt count grows by
// one, last_error becomes msg (truncated), and the next attempt is due at its Retry.At.
func (s *Store) MarkFailed(ctx context.Context, target string, retries []Retry, msg string) error {
	if len(retries) == 0 {
		return nil
	}
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	query := s.q(`UPDATE outbox_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
WHERE target = ? AND event_id = ? AND delivered_at = 0`)
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, r := range retries {
			if _, err := tx.ExecContext(ctx, query, msg, ms(r.At), target, r.EventID); err != nil {
				return fmt.Errorf("mark failed: %w", err)
			}
		}
		return nil
	})
}

// ReleaseDeliveries ends the lease on deliveries that were claimed but not attempted (the
// process is stopping), so any replica may retry them at once; no attempt is counted.
func (s *Store) ReleaseDeliveries(ctx context.Context, target string, eventIDs []string, now time.Time) error {
	if len(eventIDs) == 0 {
		return nil
	}
	if err := s.setDeliveries(ctx, s.db, target, eventIDs, `next_attempt_at = ?`, ms(now)); err != nil {
		return classify(err)
	}
	return nil
}

// OutboxStatus returns the backlog of every target that has undelivered deliveries, ordered by
// target. Targets with nothing pending are not listed.
func (s *Store) OutboxStatus(ctx context.Context) ([]TargetStatus, error) {
	var counts []struct {
		Target  string `db:"target"`
		Pending int    `db:"pending"`
	}
	if err := s.db.SelectContext(ctx, &counts, `SELECT target, count(*) AS pending FROM outbox_deliveries
WHERE delivered_at = 0 GROUP BY target ORDER BY target`); err != nil {
		return nil, classify(fmt.Errorf("outbox status: %w", err))
	}
	out := make([]TargetStatus, 0, len(counts))
	for _, c := range counts {
		var r struct {
			EventID     string `db:"event_id"`
			UserID      string `db:"user_id"`
			Version     int64  `db:"version"`
			CreatedAt   int64  `db:"created_at"`
			Attempts    int    `db:"attempts"`
			LastError   string `db:"last_error"`
			NextAttempt int64  `db:"next_attempt_at"`
		}
		err := s.db.GetContext(ctx, &r, s.q(`SELECT event_id, user_id, version, created_at, attempts, last_error, next_attempt_at
FROM outbox_deliveries WHERE target = ? AND delivered_at = 0 ORDER BY created_at, version LIMIT 1`), c.Target)
		if errors.Is(err, sql.ErrNoRows) {
			continue // delivered since the count
		}
		if err != nil {
			return nil, classify(fmt.Errorf("outbox status %s: %w", c.Target, err))
		}
		out = append(out, TargetStatus{Target: c.Target, Pending: c.Pending, OldestEventID: r.EventID,
			OldestUserID: r.UserID, OldestVersion: r.Version, OldestCreatedAt: fromMS(r.CreatedAt),
			OldestAttempts: r.Attempts, OldestLastError: r.LastError, OldestNextAttempt: fromMS(r.NextAttempt)})
	}
	return out, nil
}

// EnqueueReplay writes a fresh "upsert" event of every existing user, at its current version,
// with a pending delivery per target, pageSize users per transaction. Targets ignore versions
// they already hold, so a replay is always safe. It returns how many users were queued; after
// an error, the users queued before it stay queued and a second replay is harmless.
func (s *Store) EnqueueReplay(ctx context.Context, targets []string, now time.Time, pageSize int) (int, error) {
	if pageSize <= 0 {
		pageSize = 500
	}
	total, after := 0, ""
	for {
		var page []userRow
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			page = page[:0]
			if err := sqlx.SelectContext(ctx, tx, &page, s.q(`SELECT `+userCols+` FROM users WHERE id > ? ORDER BY id LIMIT ?`), after, pageSize); err != nil {
				return fmt.Errorf("replay: list users: %w", err)
			}
			for _, r := range page {
				if err := s.addUserEvent(ctx, tx, EventUpsert, r.user(), targets, now); err != nil {
					return fmt.Errorf("replay: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(page)
		if len(page) < pageSize {
			return total, nil
		}
		after = page[len(page)-1].ID
	}
}

// PurgeDelivered deletes up to limit deliveries delivered before cutoff, then up to limit
// events created before cutoff that have no delivery left (delivered and purged, or written
// when no target was configured). It returns how many rows it deleted in all; callers repeat
// while that is not less than limit.
func (s *Store) PurgeDelivered(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM outbox_deliveries WHERE (event_id, target) IN (
  SELECT event_id, target FROM outbox_deliveries WHERE delivered_at > 0 AND delivered_at < ? LIMIT ?)`), ms(cutoff), limit)
	if err != nil {
		return 0, classify(fmt.Errorf("purge deliveries: %w", err))
	}
	n, _ := res.RowsAffected()
	res, err = s.db.ExecContext(ctx, s.q(`DELETE FROM outbox_events WHERE id IN (
  SELECT id FROM outbox_events e WHERE e.created_at < ?
    AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = e.id) LIMIT ?)`), ms(cutoff), limit)
	if err != nil {
		return int(n), classify(fmt.Errorf("purge events: %w", err))
	}
	m, _ := res.RowsAffected()
	return int(n + m), nil
}
