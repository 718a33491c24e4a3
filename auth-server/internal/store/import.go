package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ImportOutcome is what became of one user of an import batch.
type ImportOutcome int

// The outcomes of ImportUsers, one per user of the batch.
const (
	// Imported: the user was inserted, with its sync events.
	Imported ImportOutcome = iota
	// AlreadyPresent: a user with the same username and email (in any letter case) exists,
	// from an earlier run of the same import; nothing was written.
	AlreadyPresent
	// Taken: the username or the email belongs to another user; nothing was written.
	Taken
)

// ImportUsers inserts a batch of users moved in from another system, with their "upsert"
// sync events for each target, in one transaction: a batch is imported whole or not at all,
// so an interrupted import run again sees each user either present or absent. Users whose
// username and email (lower-cased) both name one existing user are AlreadyPresent; those of
// which either is another user's are Taken. With dryRun nothing is written and the outcomes
// are what the import would give now. users must be distinct in lower-cased username and
// email (the importer's job); their Version should be 1.
func (s *Store) ImportUsers(ctx context.Context, users []User, targets []string, now time.Time, dryRun bool) ([]ImportOutcome, error) {
	if len(users) == 0 {
		return nil, nil
	}
	if dryRun {
		return s.importOutcomes(ctx, s.db, users)
	}
	var out []ImportOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if out, err = s.importOutcomes(ctx, tx, users); err != nil {
			return err
		}
		fresh := make([]User, 0, len(users))
		for i, u := range users {
			if out[i] == Imported {
				fresh = append(fresh, u)
			}
		}
		inserted, err := s.insertUsers(ctx, tx, fresh)
		if err != nil {
			return err
		}
		for i, u := range users {
			if out[i] == Imported && !inserted[u.ID] {
				out[i] = Taken // taken meanwhile by a signup between the read and the insert
			}
		}
		kept := fresh[:0]
		for _, u := range fresh {
			if inserted[u.ID] {
				kept = append(kept, u)
			}
		}
		return s.addUserEvents(ctx, tx, EventUpsert, kept, targets, now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// importOutcomes reads which of users exist already, wholly (AlreadyPresent) or in part
// (Taken).
func (s *Store) importOutcomes(ctx context.Context, q sqlx.QueryerContext, users []User) ([]ImportOutcome, error) {
	names := make([]any, 0, len(users))
	emails := make([]any, 0, len(users))
	for _, u := range users {
		names = append(names, strings.ToLower(u.Username))
		emails = append(emails, strings.ToLower(u.Email))
	}
	var rows []struct {
		ID       string `db:"id"`
		Username string `db:"username"`
		Email    string `db:"email"`
	}
	query := `SELECT id, lower(username) AS username, lower(email) AS email FROM users WHERE lower(username) IN (` +
		marks(len(names)) + `) OR lower(email) IN (` + marks(len(emails)) + `)`
	if err := sqlx.SelectContext(ctx, q, &rows, s.q(query), append(names, emails...)...); err != nil {
		return nil, classify(fmt.Errorf("read existing users: %w", err))
	}
	byName := make(map[string]string, len(rows))
	byEmail := make(map[string]string, len(rows))
	for _, r := range rows {
		byName[r.Username], byEmail[r.Email] = r.ID, r.ID
	}
	out := make([]ImportOutcome, len(users))
	for i := range users {
		n, nok := byName[names[i].(string)]
		e, eok := byEmail[emails[i].(string)]
		switch {
		case nok && eok && n == e:
			out[i] = AlreadyPresent
		case nok || eok:
			out[i] = Taken
		}
	}
	return out, nil
}

// insertUsers inserts users in one statement, leaving out (ON CONFLICT DO NOTHING) those a
// unique index refuses, and returns the ids it inserted.
func (s *Store) insertUsers(ctx context.Context, tx *sqlx.Tx, users []User) (map[string]bool, error) {
	inserted := make(map[string]bool, len(users))
	if len(users) == 0 {
		return inserted, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO users (` + userCols + `) VALUES `)
	args := make([]any, 0, 10*len(users))
	for i, u := range users {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, u.ID, u.Username, u.Email, u.PasswordHash, u.Version, ms(u.CreatedAt), ms(u.UpdatedAt),
			joined(u.Roles), ms(u.DisabledAt), ms(u.LastLoginAt))
	}
	b.WriteString(` ON CONFLICT DO NOTHING RETURNING id`)
	rows, err := tx.QueryContext(ctx, s.q(b.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("insert users: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert users: %w", err)
	}
	return inserted, nil
}

// marks is n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ImportBatchLimit is the most users one ImportUsers call may carry: its statement of users
// stays under the databases' bound on parameters (SQLite's 32,766; 10 a user).
const ImportBatchLimit = 3000
