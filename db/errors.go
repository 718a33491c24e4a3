package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The error classification of both dialects. Each function looks at the error's type, so it
// answers the same for an error of either driver whatever the DB at hand: callers need not know
// which database produced it.

// IsUniqueViolation reports whether err is a unique-index (or primary-key) conflict: PostgreSQL
// 23505, SQLite SQLITE_CONSTRAINT_UNIQUE or SQLITE_CONSTRAINT_PRIMARYKEY.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsForeignKeyViolation reports whether err is a foreign-key conflict (a row referring to
// one that does not exist): PostgreSQL 23503, SQLite SQLITE_CONSTRAINT_FOREIGNKEY.
func IsForeignKeyViolation(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// IsRetryable reports whether err means the database refused the transaction only because of
// concurrent ones, so that running it again from the start is safe and may succeed: on
// PostgreSQL a serialization failure (40001) or a deadlock victim (40P01), on SQLite a busy
// database (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT: another process holds the write lock).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// IsUnavailable reports whether err means the database could not be reached or went away
// (as opposed to a bad query): the caller should answer 503 and retry later, not 500.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: shutdown/crash; 53: insufficient resources.
		c := string(pe.Code)
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57P") || strings.HasPrefix(c, "53")
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "driver: bad connection", "broken pipe",
		"connection reset", "unexpected EOF", "database is locked", "database is closed",
		"no such host", "i/o timeout", "too many clients"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// ErrUnavailable marks a failure to reach the database, as opposed to a bad query: a server
// answers 503 for it (and retries later), 500 for the rest.
var ErrUnavailable = errors.New("database unavailable")

// Classify wraps an error that means the database is not there (IsUnavailable) with
// ErrUnavailable, once; other errors, and nil, are returned as they are.
func Classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
