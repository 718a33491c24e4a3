package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// addUserEvents is addUserEvent for many users at once: the same events (newUserEvent) and
// deliveries, written inside tx in multi-row INSERTs (db.InsertRows), for the bulk writes of
// an import.
func (s *Store) addUserEvents(ctx context.Context, tx *sqlx.Tx, kind string, users []User, targets []string, now time.Time) error {
	events := make([][]any, 0, len(users))
	deliveries := make([][]any, 0, len(users)*len(targets))
	for _, u := range users {
		ev, payload, err := newUserEvent(kind, u, now)
		if err != nil {
			return err
		}
		events = append(events, []any{ev.ID, u.ID, u.Version, kind, string(payload), ms(now)})
		for _, t := range targets {
			deliveries = append(deliveries, []any{ev.ID, t, u.ID, u.Version, ms(now), ms(now)})
		}
	}
	if err := s.db.InsertRows(ctx, tx, "outbox_events", eventCols, events); err != nil {
		return fmt.Errorf("insert outbox events: %w", err)
	}
	if err := s.db.InsertRows(ctx, tx, "outbox_deliveries", deliveryCols, deliveries); err != nil {
		return fmt.Errorf("insert outbox deliveries: %w", err)
	}
	return nil
}
