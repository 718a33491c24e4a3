// Package store keeps the auth server's state (users, signing keys, refresh sessions, login
// throttling, the audit trail and the user-sync outbox) in PostgreSQL or SQLite behind one API.
// It holds no policy: callers decide, the store persists, and every change that must be atomic
// happens in one transaction here. One conformance suite (store_test.go) runs on both databases.
package store

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
	ErrNotFound   = errors.New("not found")
	ErrUserExists = errors.New("user exists")
	// ErrUnavailable marks a failure to reach the database, as opposed to a bad query
	// (db.ErrUnavailable).
	ErrUnavailable = db.ErrUnavailable
)

// Store is the auth database.
type Store struct {
	db    *db.DB
	stmts *db.StmtCache // the statements of the hottest path, the refresh
	// where revocations are queued, and the access-token lifetime (WithRevocations)
	revokeTargets []string
	tokenTTL      time.Duration
}

// New returns a Store over an open, migrated database.
func New(d *db.DB, opts ...Option) *Store {
	s := &Store{db: d, stmts: db.NewStmtCache(d)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DB returns the underlying database, for health checks.
func (s *Store) DB() *db.DB { return s.db }

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

// ms converts a time to the stored Unix milliseconds; the zero time is stored as 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts stored Unix milliseconds back; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// classify wraps errors that mean "the database is not there" with ErrUnavailable
// (db.Classify).
func classify(err error) error { return db.Classify(err) }
