package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
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
	// First without the lookup: a batch of new users (the usual case, and all of a first
	// run) costs only its inserts. A unique index refusing one of them fails the batch; it is
	// then run again with the lookup, which tells present users from taken ones. A user
	// created between that lookup and the insert (a signup, another import) fails it once
	// more, and the next lookup sees it.
	out, err := s.importBatch(ctx, users, targets, now, false)
	for attempt := 1; errors.Is(err, errImportRaced) && attempt <= 3; attempt++ {
		out, err = s.importBatch(ctx, users, targets, now, true)
	}
	return out, err
}

// errImportRaced: a unique index refused a user of the batch that was thought free.
var errImportRaced = errors.New("import: a user was created meanwhile")

// importBatch is one attempt of ImportUsers: with lookup, find which users exist already
// (else take them all as new), insert the others (plain multi-row INSERTs, cheaper than ON
// CONFLICT), write their events.
func (s *Store) importBatch(ctx context.Context, users []User, targets []string, now time.Time, lookup bool) ([]ImportOutcome, error) {
	var out []ImportOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		out = make([]ImportOutcome, len(users)) // all Imported
		if lookup {
			var err error
			if out, err = s.importOutcomes(ctx, tx, users); err != nil {
				return err
			}
		}
		fresh := make([]User, 0, len(users))
		rows := make([][]any, 0, len(users))
		for i, u := range users {
			if out[i] == Imported {
				fresh = append(fresh, u)
				rows = append(rows, userArgs(u))
			}
		}
		if len(rows) == 0 {
			return nil
		}
		err := s.db.InsertRows(ctx, tx, "users", strings.Split(userCols, ", "), rows)
		if db.IsUniqueViolation(err) {
			return errImportRaced
		}
		if err != nil {
			return fmt.Errorf("insert users: %w", err)
		}
		return s.addUserEvents(ctx, tx, EventUpsert, fresh, targets, now)
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
	// Two index lookups rather than one OR: planners scan the whole table for an OR of two
	// long IN lists.
	const cols = `SELECT id, lower(username) AS username, lower(email) AS email FROM users`
	query := cols + ` WHERE lower(username) IN (` + marks(len(names)) + `) UNION ALL ` +
		cols + ` WHERE lower(email) IN (` + marks(len(emails)) + `)`
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

// marks is n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ImportBatchLimit is the most users one ImportUsers call may carry: its lookup has two
// parameters a user, under the databases' bound (SQLite's 32,766).
const ImportBatchLimit = 10000
