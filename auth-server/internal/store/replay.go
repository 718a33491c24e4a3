package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// A replay (`auth-server sync replay`) re-sends every user to a target without writing an
// event per user: the target's row in sync_replays is a cursor over the users table in id
// order, and the relay of whichever replica holds its lease reads a page after the cursor,
// sends it, and moves the cursor on (00012_sync_replay.sql). Targets ignore versions they
// already hold, so a page sent twice (a replica that stopped between sending and advancing)
// is harmless, and a change made during the replay travels the outbox as usual, in whatever
// order against the replay's copy of the user: the version decides.

// Replay is one target's replay in progress.
type Replay struct {
	Target string
	// ID names this replay; a new `sync replay` of the target starts another.
	ID string
	// AfterID is the cursor: every user whose id sorts up to it has been acknowledged.
	AfterID string
	// Sent counts the users acknowledged so far; Total the users when the replay started.
	Sent, Total int
	StartedAt   time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	// Attempts counts the consecutive failed calls since the last advance; LastError is the
	// last one's error.
	Attempts  int
	LastError string
}

type replayRow struct {
	Target     string `db:"target"`
	ID         string `db:"id"`
	AfterID    string `db:"after_id"`
	Sent       int    `db:"sent"`
	Total      int    `db:"total"`
	StartedAt  int64  `db:"started_at"`
	LeaseOwner string `db:"lease_owner"`
	LeaseUntil int64  `db:"lease_until"`
	Attempts   int    `db:"attempts"`
	LastError  string `db:"last_error"`
}

const replayCols = "target, id, after_id, sent, total, started_at, lease_owner, lease_until, attempts, last_error"

func (r replayRow) replay() Replay {
	return Replay{Target: r.Target, ID: r.ID, AfterID: r.AfterID, Sent: r.Sent, Total: r.Total,
		StartedAt: fromMS(r.StartedAt), LeaseOwner: r.LeaseOwner, LeaseUntil: fromMS(r.LeaseUntil),
		Attempts: r.Attempts, LastError: r.LastError}
}

// StartReplay starts a replay of every user to each of targets, from the first user, and
// returns how many users there are. A replay of a target already in progress starts over
// (its holder's next advance changes nothing and it lets go).
func (s *Store) StartReplay(ctx context.Context, targets []string, now time.Time) (int, error) {
	var users int
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := sqlx.GetContext(ctx, tx, &users, `SELECT count(*) FROM users`); err != nil {
			return fmt.Errorf("start replay: count users: %w", err)
		}
		for _, t := range targets {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO sync_replays (target, id, total, started_at) VALUES (?, ?, ?, ?)
ON CONFLICT (target) DO UPDATE SET id = excluded.id, after_id = '', sent = 0, total = excluded.total,
    started_at = excluded.started_at, lease_owner = '', lease_until = 0, attempts = 0, last_error = ''`),
				t, uuid.NewString(), users, ms(now)); err != nil {
				return fmt.Errorf("start replay: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return users, nil
}

// ClaimReplay leases target's replay to owner until now+lease and returns it; owner may renew
// its own lease at any time, except during the backoff after a failed call. ok is false when
// target has no replay in progress, or another owner's lease or the backoff has not ended.
func (s *Store) ClaimReplay(ctx context.Context, target, owner string, now time.Time, lease time.Duration) (r Replay, ok bool, err error) {
	var row replayRow
	err = s.inTx(ctx, func(tx *sqlx.Tx) error { // in a transaction: SQLite's writers queue (db.InTx)
		return sqlx.GetContext(ctx, tx, &row, s.q(`UPDATE sync_replays SET lease_owner = ?, lease_until = ?
WHERE target = ? AND (lease_until <= ? OR (lease_owner = ? AND attempts = 0)) RETURNING `+replayCols),
			owner, ms(now.Add(lease)), target, ms(now), owner)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Replay{}, false, nil
	}
	if err != nil {
		return Replay{}, false, classify(fmt.Errorf("claim replay: %w", err))
	}
	return row.replay(), true, nil
}

// ReplayPage returns the sync events of up to limit users whose id sorts after afterID, in id
// order, each under a fresh event id (UserID is the cursor to advance to once it is sent).
func (s *Store) ReplayPage(ctx context.Context, afterID string, limit int, now time.Time) ([]Delivery, error) {
	var page []userRow // the columns an event carries (newUserEvent)
	if err := s.db.SelectContext(ctx, &page, s.q(`SELECT id, username, email, version FROM users WHERE id > ? ORDER BY id LIMIT ?`), afterID, limit); err != nil {
		return nil, classify(fmt.Errorf("replay page: %w", err))
	}
	out := make([]Delivery, len(page))
	for i, r := range page {
		ev, payload, err := newUserEvent(EventUpsert, r.user(), now)
		if err != nil {
			return nil, fmt.Errorf("replay page: %w", err)
		}
		out[i] = Delivery{EventID: ev.ID, UserID: r.ID, Version: r.Version, Payload: payload}
	}
	return out, nil
}

// AdvanceReplay records that r's holder owner had n more users acknowledged, up to afterID,
// and renews its lease until now+lease; when done, the replay is over and its row goes. It
// reports false when r is no longer owner's (restarted by a new `sync replay`, or taken over
// by another replica after the lease ended): nothing changed, and the caller lets go.
func (s *Store) AdvanceReplay(ctx context.Context, r Replay, owner, afterID string, n int, done bool, now time.Time, lease time.Duration) (bool, error) {
	query, args := `UPDATE sync_replays SET after_id = ?, sent = sent + ?, lease_until = ?, attempts = 0, last_error = ''
WHERE target = ? AND id = ? AND lease_owner = ?`, []any{afterID, n, ms(now.Add(lease)), r.Target, r.ID, owner}
	if done {
		query, args = `DELETE FROM sync_replays WHERE target = ? AND id = ? AND lease_owner = ?`, []any{r.Target, r.ID, owner}
	}
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return false, classify(fmt.Errorf("advance replay: %w", err))
	}
	changed, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance replay: %w", err)
	}
	return changed == 1, nil
}

// ReplayFailed records a failed call of r's holder owner: one more attempt, the error
// (truncated), and no replica may try again before retryAt (the backoff).
func (s *Store) ReplayFailed(ctx context.Context, r Replay, owner, msg string, retryAt time.Time) error {
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_replays SET attempts = attempts + 1, last_error = ?, lease_until = ?
WHERE target = ? AND id = ? AND lease_owner = ?`), msg, ms(retryAt), r.Target, r.ID, owner); err != nil {
		return classify(fmt.Errorf("record replay failure: %w", err))
	}
	return nil
}

// ReleaseReplay ends owner's lease on r at once (the relay is stopping), so any replica may
// carry it on.
func (s *Store) ReleaseReplay(ctx context.Context, r Replay, owner string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE sync_replays SET lease_until = ? WHERE target = ? AND id = ? AND lease_owner = ?`),
		ms(now), r.Target, r.ID, owner); err != nil {
		return classify(fmt.Errorf("release replay: %w", err))
	}
	return nil
}

// Replays returns every replay in progress, ordered by target.
func (s *Store) Replays(ctx context.Context) ([]Replay, error) {
	var rows []replayRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+replayCols+` FROM sync_replays ORDER BY target`); err != nil {
		return nil, classify(fmt.Errorf("replays: %w", err))
	}
	out := make([]Replay, len(rows))
	for i, r := range rows {
		out[i] = r.replay()
	}
	return out, nil
}
