package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestInTxRetry: InTxRetry runs a transaction again while the database refused it only
// because of concurrent ones, at most the attempts it is given, and never for other errors.
// (The retry loop was the auth store's; its TestInTxRetry still checks the store's three attempts.)
func TestInTxRetry(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	_, busy := sqliteErrors(t)
	for _, tc := range []struct {
		name      string
		failures  int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"serialization failure retried", 2, &pq.Error{Code: "40001"}, 3, false},
		{"deadlock retried", 1, &pq.Error{Code: "40P01"}, 2, false},
		{"sqlite busy retried", 1, busy, 2, false},
		{"gives up after three", 5, &pq.Error{Code: "40001"}, 3, true},
		{"other error not retried", 5, &pq.Error{Code: "23505"}, 1, true},
		{"plain error not retried", 5, errors.New("boom"), 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := d.InTxRetry(context.Background(), 3, func(tx *sqlx.Tx) error {
				calls++
				if calls <= tc.failures {
					return tc.err
				}
				return nil
			})
			if calls != tc.wantCalls || (err != nil) != tc.wantErr {
				t.Errorf("calls = %d, err = %v; want %d calls, error %v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
	t.Run("not once ctx is done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := d.InTxRetry(ctx, 3, func(tx *sqlx.Tx) error {
			calls++
			cancel()
			return &pq.Error{Code: "40001"}
		})
		if calls != 1 || err == nil {
			t.Errorf("calls = %d, err = %v; want 1 call and an error", calls, err)
		}
	})
}
