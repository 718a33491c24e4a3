package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/jwtauth/jwtauth/db"
)

// sqliteErrors returns real errors of the SQLite driver: a unique violation, and the busy error
// of a writer that finds another process's write transaction holding the lock.
func sqliteErrors(t testing.TB) (unique, busy error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "e.db")
	a, err := db.Open(ctx, "sqlite:"+path, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Open(ctx, "sqlite:"+path+"?_pragma=busy_timeout(1)", 2) // another "process"
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.ExecContext(ctx, `CREATE TABLE u (k TEXT PRIMARY KEY, v TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO u (k, v) VALUES ('1', 'x')`); err != nil {
		t.Fatal(err)
	}
	_, unique = a.ExecContext(ctx, `INSERT INTO u (k, v) VALUES ('2', 'x')`)
	_ = a.InTx(ctx, func(tx *sqlx.Tx) error {
		_, busy = b.ExecContext(ctx, `INSERT INTO u (k, v) VALUES ('3', 'y')`)
		return nil
	})
	if unique == nil || busy == nil {
		t.Fatalf("SQLite gave unique = %v, busy = %v; want two errors", unique, busy)
	}
	return unique, busy
}

func TestErrorClassification(t *testing.T) {
	unique, busy := sqliteErrors(t)
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	for _, tc := range []struct {
		name                            string
		err                             error
		wantUnique, wantRetry, wantGone bool
	}{
		{"nil", nil, false, false, false},
		{"plain", errors.New("boom"), false, false, false},
		{"postgres unique", &pq.Error{Code: "23505"}, true, false, false},
		{"postgres unique wrapped", wrap(&pq.Error{Code: "23505"}), true, false, false},
		{"postgres serialization failure", wrap(&pq.Error{Code: "40001"}), false, true, false},
		{"postgres deadlock", &pq.Error{Code: "40P01"}, false, true, false},
		{"postgres foreign key", &pq.Error{Code: "23503"}, false, false, false},
		{"postgres connection failure", &pq.Error{Code: "08006"}, false, false, true},
		{"postgres shutting down", &pq.Error{Code: "57P01"}, false, false, true},
		{"postgres too many connections", &pq.Error{Code: "53300"}, false, false, true},
		{"sqlite unique", wrap(unique), true, false, false},
		{"sqlite busy", wrap(busy), false, true, true},
		{"deadline", wrap(context.DeadlineExceeded), false, false, true},
		{"connection refused", errors.New("dial tcp: connection refused"), false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := db.IsUniqueViolation(tc.err); got != tc.wantUnique {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", tc.err, got, tc.wantUnique)
			}
			if got := db.IsRetryable(tc.err); got != tc.wantRetry {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.wantRetry)
			}
			if got := db.IsUnavailable(tc.err); got != tc.wantGone {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tc.err, got, tc.wantGone)
			}
		})
	}
}

// TestForeignKeyViolation: a row naming one that does not exist, from either driver.
func TestForeignKeyViolation(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "fk.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE c (p TEXT REFERENCES p (id))`); err != nil {
		t.Fatal(err)
	}
	_, fk := d.ExecContext(ctx, `INSERT INTO c (p) VALUES ('none')`)
	unique, _ := sqliteErrors(t)
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"postgres foreign key": {fmt.Errorf("x: %w", &pq.Error{Code: "23503"}), true},
		"postgres unique":      {&pq.Error{Code: "23505"}, false},
		"sqlite foreign key":   {fk, true},
		"sqlite unique":        {unique, false},
		"nil":                  {nil, false},
	} {
		if got := db.IsForeignKeyViolation(tc.err); got != tc.want {
			t.Errorf("%s: IsForeignKeyViolation(%v) = %v, want %v", name, tc.err, got, tc.want)
		}
	}
}
