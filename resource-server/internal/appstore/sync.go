package appstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// AppliedEventsRetention is how long an applied event id is remembered. Forgetting it later
// is safe: an event that old is also older than or equal to the version it produced, so the
// version check ignores a replay of it.
const AppliedEventsRetention = 30 * 24 * time.Hour

// syncLockID serialises sync batches (db.TxLock), so two concurrent batches touching the
// same users in different orders cannot deadlock ("jwapps").
const syncLockID = 0x6a7761707073

// maxFieldLen bounds the ids and strings of an event.
const maxFieldLen = 320

// Result counts the events of a batch: Applied changed the app database; Ignored did not
// (a repeated event id, or a version older than or equal to the one held). Revocations are
// the batch's revocations, applied now or before, for the deny-list in memory.
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

// Apply applies a batch of sync events in one transaction, idempotently: an event id already
// applied changes nothing, an event whose version is not newer than the user's row is ignored,
// an upsert creates or overwrites the user (also a version-0 row made from token claims), and a
// delete removes the user's notes and leaves a tombstone carrying its version. Any invalid
// event refuses the whole batch with ErrInvalidEvent before anything is written.
func (s *Store) Apply(ctx context.Context, events []syncevent.Event) (Result, error) {
	for _, e := range events {
		if err := ValidateEvent(e); err != nil {
			return Result{}, err
		}
	}
	var res Result
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		res = Result{}
		now := s.now()
		if err := s.db.TxLock(ctx, tx, syncLockID); err != nil {
			return fmt.Errorf("sync lock: %w", err)
		}
		for _, e := range events {
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

// recordEvent remembers e's id and reports whether it is new.
func (s *Store) recordEvent(ctx context.Context, tx *sqlx.Tx, e syncevent.Event, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO applied_events (event_id, applied_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`), e.ID, ms(now))
	if err != nil {
		return false, fmt.Errorf("record event: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// applyEvent records e's id and applies it; it reports whether the app database changed.
func (s *Store) applyEvent(ctx context.Context, tx *sqlx.Tx, e syncevent.Event, now time.Time) (bool, error) {
	if first, err := s.recordEvent(ctx, tx, e, now); err != nil || !first {
		return false, err // already applied
	}
	var res sql.Result
	var err error
	u, deleted := e.User, int64(0)
	if e.Type == syncevent.TypeDelete {
		u.Username, u.Email, deleted = "", "", 1
	}
	// The row is written only when absent or older: the version decides, whatever the order
	// in which events arrive.
	res, err = tx.ExecContext(ctx, s.q(`INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET username = excluded.username, email = excluded.email, version = excluded.version,
    deleted = excluded.deleted, updated_at = excluded.updated_at
WHERE app_users.version < excluded.version`), u.ID, u.Username, u.Email, u.Version, deleted, ms(now), ms(now))
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
