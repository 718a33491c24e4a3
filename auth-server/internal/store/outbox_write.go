package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// Kinds of user events written to the outbox.
const (
	EventUpsert = syncevent.TypeUpsert
	EventDelete = syncevent.TypeDelete
)

// eventCols and deliveryCols are the columns of an outbox event and of a delivery, in the
// order their rows are written.
var (
	eventCols    = []string{"id", "user_id", "version", "kind", "payload", "created_at"}
	deliveryCols = []string{"event_id", "target", "user_id", "version", "created_at", "next_attempt_at"}
)

// addUserEvent writes one outbox event for u and a pending delivery per target, inside tx, so
// the event exists exactly when the change it describes was committed.
func (s *Store) addUserEvent(ctx context.Context, tx *sqlx.Tx, kind string, u User, targets []string, now time.Time) error {
	ev, payload, err := newUserEvent(kind, u, now)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox_events (id, user_id, version, kind, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		ev.ID, u.ID, u.Version, kind, string(payload), ms(now)); err != nil {
		return fmt.Errorf("insert outbox event: %w", err)
	}
	for _, t := range targets {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox_deliveries (event_id, target, user_id, version, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)`),
			ev.ID, t, u.ID, u.Version, ms(now), ms(now)); err != nil {
			return fmt.Errorf("insert outbox delivery: %w", err)
		}
	}
	return nil
}

// newUserEvent is the event describing u's change of kind at now, and its JSON payload: the
// one definition of what a sync event says, for changes and replays alike.
func newUserEvent(kind string, u User, now time.Time) (syncevent.Event, []byte, error) {
	ev := syncevent.Event{
		ID:         uuid.NewString(),
		Type:       kind,
		User:       syncevent.User{ID: u.ID, Username: u.Username, Email: u.Email, Version: u.Version},
		OccurredAt: now.UTC(),
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return syncevent.Event{}, nil, fmt.Errorf("encode event: %w", err)
	}
	return ev, payload, nil
}
