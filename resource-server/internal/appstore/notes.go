package appstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Note is a user's note.
type Note struct {
	ID        string    `json:"id"`
	UserID    string    `json:"-"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

type noteRow struct {
	ID        string `db:"id"`
	UserID    string `db:"user_id"`
	Title     string `db:"title"`
	Body      string `db:"body"`
	CreatedAt int64  `db:"created_at"`
}

func (r noteRow) note() Note {
	return Note{ID: r.ID, UserID: r.UserID, Title: r.Title, Body: r.Body, CreatedAt: fromMS(r.CreatedAt)}
}

const noteCols = "id, user_id, title, body, created_at"

func newNoteID() string { return uuid.NewString() }

// CreateNote adds a note for owner, first creating owner's user row from the token's claims
// when sync has not delivered it yet (as EnsureUser). A deleted user gets ErrUserDeleted.
// Title and body are stored as given: validating them is the caller's job.
func (s *Store) CreateNote(ctx context.Context, owner Identity, title, body string) (Note, error) {
	n := Note{ID: s.newID(), UserID: owner.ID, Title: title, Body: body, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.ensureUserTx(ctx, tx, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO notes (`+noteCols+`) VALUES (?, ?, ?, ?, ?)`),
			n.ID, n.UserID, n.Title, n.Body, ms(n.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert note: %w", err)
		}
		return nil
	})
	if err != nil {
		return Note{}, err
	}
	return n, nil
}

// Notes returns userID's notes, oldest first (none for an unknown or deleted user).
func (s *Store) Notes(ctx context.Context, userID string) ([]Note, error) {
	var rows []noteRow
	err := s.db.SelectContext(ctx, &rows, s.q(`SELECT `+noteCols+` FROM notes WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, classify(fmt.Errorf("list notes: %w", err))
	}
	out := make([]Note, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.note())
	}
	return out, nil
}

// Note returns userID's note id; ErrNotFound when there is none or it belongs to someone else.
func (s *Store) Note(ctx context.Context, userID, id string) (Note, error) {
	var r noteRow
	err := s.db.GetContext(ctx, &r, s.q(`SELECT `+noteCols+` FROM notes WHERE id = ? AND user_id = ?`), id, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return Note{}, ErrNotFound
	}
	if err != nil {
		return Note{}, classify(fmt.Errorf("get note: %w", err))
	}
	return r.note(), nil
}

// DeleteNote removes userID's note id; ErrNotFound when there is none or it belongs to
// someone else.
func (s *Store) DeleteNote(ctx context.Context, userID, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM notes WHERE id = ? AND user_id = ?`), id, userID)
	if err != nil {
		return classify(fmt.Errorf("delete note: %w", err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(fmt.Errorf("delete note: %w", err))
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
