package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/auth-server/internal/throttle"
)

type throttleRow struct {
	Failures     int64 `db:"failures"`
	WindowStart  int64 `db:"window_start"`
	BlockedUntil int64 `db:"blocked_until"`
}

func (r throttleRow) counter() throttle.Counter {
	return throttle.Counter{Failures: int(r.Failures), WindowStart: fromMS(r.WindowStart), BlockedUntil: fromMS(r.BlockedUntil)}
}

// ThrottleCounter returns the failure counter stored under key (a zero counter when none).
func (s *Store) ThrottleCounter(ctx context.Context, key string) (throttle.Counter, error) {
	c, _, err := s.ThrottleCounters(ctx, key, key)
	return c, err
}

// ThrottleCounters returns the counters stored under the keys a and b (zero counters when
// none) in one prepared statement: a log-in checks its account's and its address's at once.
func (s *Store) ThrottleCounters(ctx context.Context, a, b string) (throttle.Counter, throttle.Counter, error) {
	ps, err := s.stmts.Get(ctx, s.q(`SELECT throttle_key, failures, window_start, blocked_until FROM login_throttle WHERE throttle_key IN (?, ?)`))
	if err != nil {
		return throttle.Counter{}, throttle.Counter{}, classify(fmt.Errorf("read throttle: %w", err))
	}
	rows, err := ps.QueryxContext(ctx, a, b)
	if err != nil {
		return throttle.Counter{}, throttle.Counter{}, classify(fmt.Errorf("read throttle: %w", err))
	}
	defer rows.Close()
	var ca, cb throttle.Counter
	for rows.Next() {
		var r struct {
			Key string `db:"throttle_key"`
			throttleRow
		}
		if err := rows.StructScan(&r); err != nil {
			return throttle.Counter{}, throttle.Counter{}, classify(fmt.Errorf("read throttle: %w", err))
		}
		if r.Key == a {
			ca = r.counter()
		}
		if r.Key == b {
			cb = r.counter()
		}
	}
	if err := rows.Err(); err != nil {
		return throttle.Counter{}, throttle.Counter{}, classify(fmt.Errorf("read throttle: %w", err))
	}
	return ca, cb, nil
}

// RecordFailure replaces the counter under each key by fail(old), atomically, so replicas
// counting failures for one account at once never lose one, and writes audit in the same
// transaction.
func (s *Store) RecordFailure(ctx context.Context, fail func(key string, c throttle.Counter) throttle.Counter, audit AuditEvent, keys ...string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := s.bumpCounters(ctx, tx, fail, keys); err != nil {
			return err
		}
		return s.audit(ctx, tx, audit)
	})
}

// CountEvent is RecordFailure without an audit event: it counts what is not a failure (a mail
// sent, for the mail throttle) on the keys' counters.
func (s *Store) CountEvent(ctx context.Context, count func(key string, c throttle.Counter) throttle.Counter, keys ...string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return s.bumpCounters(ctx, tx, count, keys) })
}

// bumpCounters replaces the counter under each key by fail(old), each row locked, in tx.
func (s *Store) bumpCounters(ctx context.Context, tx *sqlx.Tx, fail func(key string, c throttle.Counter) throttle.Counter, keys []string) error {
	for _, key := range keys {
		// Make sure the row exists so that it can be locked.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO login_throttle (throttle_key, failures, window_start, blocked_until) VALUES (?, 0, 0, 0) ON CONFLICT (throttle_key) DO NOTHING`), key); err != nil {
			return fmt.Errorf("throttle row: %w", err)
		}
		var r throttleRow
		if err := tx.GetContext(ctx, &r, s.q(`SELECT failures, window_start, blocked_until FROM login_throttle WHERE throttle_key = ?`+s.db.ForUpdate()), key); err != nil {
			return fmt.Errorf("lock throttle: %w", err)
		}
		c := fail(key, r.counter())
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE login_throttle SET failures = ?, window_start = ?, blocked_until = ? WHERE throttle_key = ?`),
			c.Failures, ms(c.WindowStart), ms(c.BlockedUntil), key); err != nil {
			return fmt.Errorf("write throttle: %w", err)
		}
	}
	return nil
}

// ClearThrottle forgets the counter under key (an account's, after a successful login).
func (s *Store) ClearThrottle(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM login_throttle WHERE throttle_key = ?`), key); err != nil {
		return classify(fmt.Errorf("clear throttle: %w", err))
	}
	return nil
}

// PruneThrottle deletes the counters whose window started and whose last block ended before
// before (the caller's policy says when a counter no longer matters: throttle's ForgetBefore),
// and returns how many it deleted.
func (s *Store) PruneThrottle(ctx context.Context, before time.Time) (int, error) {
	cut := ms(before)
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM login_throttle WHERE blocked_until < ? AND window_start < ?`), cut, cut)
	if err != nil {
		return 0, classify(fmt.Errorf("prune throttle: %w", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, classify(fmt.Errorf("prune throttle: %w", err))
	}
	return int(n), nil
}
