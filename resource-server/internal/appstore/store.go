// Package appstore is the resource server's app database: the users as the auth server syncs
// them (with a version and a tombstone for deleted users), the events already applied, and the
// users' notes. It runs on PostgreSQL or SQLite behind one API and holds no HTTP concerns; one
// conformance suite (store_test.go) runs on both databases.
package appstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// Errors callers branch on.
var (
	// ErrNotFound: no such note (or a note of another user), or no such user.
	ErrNotFound = errors.New("not found")
	// ErrUserDeleted: the user was deleted by sync; its tombstone forbids recreating it.
	ErrUserDeleted = errors.New("user deleted")
	// ErrInvalidEvent: a sync event is malformed (unknown type, missing id, negative version…).
	ErrInvalidEvent = errors.New("invalid sync event")
	// ErrUnavailable marks a failure to reach the database, as opposed to a bad query
	// (db.ErrUnavailable).
	ErrUnavailable = db.ErrUnavailable
)

// Store is the app database.
type Store struct {
	db      *db.DB
	now     func() time.Time
	newID   func() string
	stmts   *db.StmtCache
	getUser string // the read of every /me and /awesome_app, prepared (stmts), rebound
}

// New returns a Store over an open, migrated database (db.AppSchema). now is the clock of
// every timestamp the store writes.
func New(d *db.DB, now func() time.Time) *Store {
	return &Store{db: d, now: now, newID: newNoteID,
		stmts: db.NewStmtCache(d), getUser: d.Rebind(`SELECT ` + userCols + ` FROM app_users WHERE id = ?`)}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return classify(fmt.Errorf("ping: %w", err))
	}
	return nil
}

func (s *Store) q(query string) string { return s.db.Rebind(query) }

// inTx runs fn in a transaction and classifies connection failures as ErrUnavailable.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return classify(s.db.InTx(ctx, fn))
}

// ms converts a time to the stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts stored Unix milliseconds back to UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// classify wraps errors that mean "the database is not there" with ErrUnavailable
// (db.Classify).
func classify(err error) error { return db.Classify(err) }
