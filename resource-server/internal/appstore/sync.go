package appstore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// AppliedEventsRetention is how long the id of an applied revocation is remembered (user
// events need no memory of their ids: the version decides). Forgetting it later is safe:
// revocations are applied again whatever their order, and their entries expire with the
// tokens they cover.
const AppliedEventsRetention = 30 * 24 * time.Hour

// syncLockID serialises sync batches (db.TxLock), so two concurrent batches touching the
// same users in different orders cannot deadlock ("jwapps").
const syncLockID = 0x6a7761707073

// maxFieldLen bounds the ids and strings of an event.
const maxFieldLen = 320

// Result counts the events of a batch: Applied changed the app database; Ignored did not (a
// version older than or equal to the one held, or a revocation applied before). Revocations
// are the batch's revocations, applied now or before, for the deny-list in memory.
type Result struct {
	Applied     int                `json:"applied"`
	Ignored     int                `json:"ignored"`
	Revocations []StoredRevocation `json:"-"`
}

// ValidateEvent checks one event's shape; the error wraps ErrInvalidEvent.
func ValidateEvent(e syncevent.Event) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: event %.64q: %s", ErrInvalidEvent, e.ID, fmt.Sprintf(format, a...))
	}
	if e.IsRevocation() {
		if e.ID == "" || len(e.ID) > maxFieldLen {
			return bad("id is required and at most %d bytes", maxFieldLen)
		}
		if _, _, err := verifier.RevocationOf(e); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
		}
		return nil
	}
	switch {
	case e.Type != syncevent.TypeUpsert && e.Type != syncevent.TypeDelete:
		return bad("unknown type %.32q", e.Type)
	case e.User.Version < 0:
		return bad("negative version")
	}
	fields := []struct{ name, value string }{
		{"id", e.ID}, {"user.id", e.User.ID}, {"user.username", e.User.Username}, {"user.email", e.User.Email},
	}
	for i, f := range fields {
		if i < 2 && f.value == "" {
			return bad("%s is required", f.name)
		}
		if len(f.value) > maxFieldLen || !utf8.ValidString(f.value) || strings.ContainsRune(f.value, 0) {
			return bad("%s is longer than %d bytes or not valid text", f.name, maxFieldLen)
		}
	}
	return nil
}

// Apply applies a batch of sync events in one transaction, idempotently: a user event whose
// version is not newer than the user's row is ignored (so one applied before changes nothing),
// an upsert creates or overwrites the user (also a version-0 row made from token claims), and a
// delete removes the user's notes and leaves a tombstone carrying its version. Any invalid
// event refuses the whole batch with ErrInvalidEvent before anything is written.
//
// The batch costs a few statements whatever its size (applyBulk): the user events of users
// that have only one event in the batch (a replay's, a burst of signups') are written together,
// in multi-row statements. The rest (revocations, and the events of a user named more than once,
// whose order matters) are applied one by one in array order, as before. The two groups touch
// different users, so the order between them does not matter.
func (s *Store) Apply(ctx context.Context, events []syncevent.Event) (Result, error) {
	for _, e := range events {
		if err := ValidateEvent(e); err != nil {
			return Result{}, err
		}
	}
	bulk, rest := splitBatch(events)
	var res Result
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = Result{}
		now := s.now()
		if err := s.db.TxLock(ctx, tx, syncLockID); err != nil {
			return fmt.Errorf("sync lock: %w", err)
		}
		applied, err := s.applyBulk(ctx, tx, bulk, now)
		if err != nil {
			return err
		}
		res.Applied, res.Ignored = applied, len(bulk)-applied
		for _, e := range rest {
			if e.IsRevocation() {
				// Never versioned: a revocation holds whatever the order of the user's other
				// events. Written again when repeated (only applied_at changes, so other
				// replicas read it again), but counted as applied once.
				first, err := s.recordEvent(ctx, tx, e, now)
				if err != nil {
					return err
				}
				rev, err := s.applyRevocation(ctx, tx, e, now)
				if err != nil {
					return err
				}
				res.Revocations = append(res.Revocations, rev)
				if first {
					res.Applied++
				} else {
					res.Ignored++
				}
				continue
			}
			changed, err := s.applyEvent(ctx, tx, e, now)
			if err != nil {
				return err
			}
			if changed {
				res.Applied++
			} else {
				res.Ignored++
			}
		}
		if len(res.Revocations) == 0 {
			return nil // applied_events grows only with revocations: pruned when it does
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM applied_events WHERE applied_at < ?`), ms(now.Add(-AppliedEventsRetention))); err != nil {
			return fmt.Errorf("prune applied events: %w", err)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// splitBatch separates the user events that can be applied together (applyBulk: their user
// appears once in the batch) from the rest, each group in array order.
func splitBatch(events []syncevent.Event) (bulk, rest []syncevent.Event) {
	users := make(map[string]int, len(events))
	for _, e := range events {
		if !e.IsRevocation() {
			users[e.User.ID]++
		}
	}
	for _, e := range events {
		if !e.IsRevocation() && users[e.User.ID] == 1 {
			bulk = append(bulk, e)
		} else {
			rest = append(rest, e)
		}
	}
	return bulk, rest
}

// bulkRows bounds the rows of one multi-row statement of applyBulk, keeping its parameters
// (7 a row) well below both databases' limits (SQLite: 32,766; PostgreSQL: 65,535).
const bulkRows = 500

// applyBulk applies user events of distinct users, as applyEvent would one by one, in two
// statements per bulkRows events: write the users where absent or older (the version decides),
// and remove the notes of the users whose delete was applied. It returns how many events
// changed the app database.
func (s *Store) applyBulk(ctx context.Context, tx *sqlx.Tx, events []syncevent.Event, now time.Time) (int, error) {
	applied := 0
	for len(events) > 0 {
		chunk := events[:min(len(events), bulkRows)]
		events = events[len(chunk):]
		deleted, n, err := s.upsertUsers(ctx, tx, chunk, now)
		if err != nil {
			return 0, err
		}
		applied += n
		if len(deleted) > 0 {
			query, args, err := sqlx.In(`DELETE FROM notes WHERE user_id IN (?)`, deleted)
			if err != nil {
				return 0, fmt.Errorf("delete notes: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
				return 0, fmt.Errorf("delete notes: %w", err)
			}
		}
	}
	return applied, nil
}

// upsertUsers writes the users of events (distinct users) where their row is absent or older
// than the event, in one statement, and returns the ids of the users it deleted and how many
// rows it wrote.
func (s *Store) upsertUsers(ctx context.Context, tx *sqlx.Tx, events []syncevent.Event, now time.Time) ([]string, int, error) {
	if len(events) == 0 {
		return nil, 0, nil
	}
	var q strings.Builder
	args := make([]any, 0, 7*len(events))
	q.WriteString(`INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at) VALUES `)
	deletes := false
	for i, e := range events {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		u, deleted := userOf(e)
		deletes = deletes || deleted == 1
		args = append(args, u.ID, u.Username, u.Email, u.Version, deleted, ms(now), ms(now))
	}
	q.WriteString(upsertWhenNewer)
	if !deletes { // upserts only (a replay's, a burst of signups'): the count is all it needs
		res, err := tx.ExecContext(ctx, s.q(q.String()), args...)
		if err != nil {
			return nil, 0, fmt.Errorf("apply events: %w", err)
		}
		n, err := res.RowsAffected()
		return nil, int(n), err
	}
	q.WriteString(` RETURNING id, deleted`)
	rows, err := tx.QueryContext(ctx, s.q(q.String()), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("apply events: %w", err)
	}
	defer rows.Close()
	var deleted []string
	n := 0
	for rows.Next() {
		var id string
		var del int64
		if err := rows.Scan(&id, &del); err != nil {
			return nil, 0, fmt.Errorf("apply events: %w", err)
		}
		n++
		if del == 1 {
			deleted = append(deleted, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("apply events: %w", err)
	}
	return deleted, n, nil
}

// upsertWhenNewer ends an INSERT INTO app_users: the row is written only when absent or
// older, so the version decides, whatever the order in which events arrive.
const upsertWhenNewer = `
ON CONFLICT (id) DO UPDATE SET username = excluded.username, email = excluded.email, version = excluded.version,
    deleted = excluded.deleted, updated_at = excluded.updated_at
WHERE app_users.version < excluded.version`

// userOf is the row a user event writes: a delete keeps only the id and the version, and marks
// the tombstone (deleted = 1).
func userOf(e syncevent.Event) (syncevent.User, int64) {
	u := e.User
	if e.Type == syncevent.TypeDelete {
		u.Username, u.Email = "", ""
		return u, 1
	}
	return u, 0
}

// recordEvent remembers e's id and reports whether it is new.
func (s *Store) recordEvent(ctx context.Context, tx *sqlx.Tx, e syncevent.Event, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO applied_events (event_id, applied_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`), e.ID, ms(now))
	if err != nil {
		return false, fmt.Errorf("record event: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// applyEvent applies the user event e; it reports whether the app database changed.
func (s *Store) applyEvent(ctx context.Context, tx *sqlx.Tx, e syncevent.Event, now time.Time) (bool, error) {
	u, deleted := userOf(e)
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`+upsertWhenNewer), u.ID, u.Username, u.Email, u.Version, deleted, ms(now), ms(now))
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", e.Type, err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	if deleted == 1 {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM notes WHERE user_id = ?`), u.ID); err != nil {
			return false, fmt.Errorf("delete notes: %w", err)
		}
	}
	return true, nil
}
