package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// The relay's side of the outbox: claiming due deliveries under a lease, recording their
// outcome, reporting the backlog, and purging what was delivered (replays: replay.go).

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
//
// The claim costs about limit index lookups whatever the backlog and whatever the planner's
// statistics say (see claimQuery).
func (s *Store) ClaimDeliveries(ctx context.Context, target string, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := s.q(claimQuery + s.db.SkipLocked("d"))
	var out []Delivery
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// See claimQuery: no sort may stand in for an index walk.
		if err := s.db.PreferIndexOrder(ctx, tx); err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
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

// claimQuery selects the due deliveries of one target (arguments: target, now, limit) that
// are the lowest undelivered version of their user for that target.
//
// Its cost must not depend on statistics: right after a bulk enqueue (a replay, or a backlog
// grown faster than autovacuum analyzes), PostgreSQL still believes there is next to nothing
// pending, and with a NOT EXISTS anti join it once chose a plan that read every pending row
// of the target for each candidate (O(n²): 64 s for a claim of 100 out of 10,000). So:
//   - the outer walk is outbox_deliveries_due_idx (target, next_attempt_at, version), which
//     matches the ORDER BY, so LIMIT stops it after about limit rows;
//   - the order check is a correlated scalar subquery, which PostgreSQL never turns into a
//     join: per candidate, the lowest pending version of the user, one descent of
//     outbox_deliveries_user_idx (target, user_id, version);
//   - the payload is fetched by primary key, for the candidates only;
//   - on PostgreSQL the claim runs with enable_sort off: both ORDER BYs are then served by
//     those index walks, never by reading a whole target's pending rows into a sort, which is
//     what a wrong guess of "one pending row" makes look free.
//
// Both databases use the partial indexes because the query repeats their literal predicate.
const claimQuery = `SELECT d.event_id, d.user_id, d.version, d.attempts,
  (SELECT e.payload FROM outbox_events e WHERE e.id = d.event_id) AS payload
FROM outbox_deliveries d
WHERE d.target = ? AND d.delivered_at = 0 AND d.next_attempt_at <= ?
  AND d.version = (SELECT p.version FROM outbox_deliveries p
    WHERE p.target = d.target AND p.user_id = d.user_id AND p.delivered_at = 0
    ORDER BY p.version LIMIT 1)
ORDER BY d.next_attempt_at, d.version
LIMIT ?`

// stillPending is the guard of the updates that address deliveries by key (target and
// event_id): they leave delivered rows alone. It says "<= 0" where "= 0" would do (delivered_at
// is never negative) so that it does not match the partial indexes' predicate: the rows are
// then found through the primary key, never by scanning a partial index that stale
// statistics make look empty.
const stillPending = `delivered_at <= 0`

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
	query, inArgs, err := sqlx.In(`UPDATE outbox_deliveries SET `+set+` WHERE target = ? AND `+stillPending+` AND event_id IN (?)`,
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
WHERE target = ? AND event_id = ? AND ` + stillPending)
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
