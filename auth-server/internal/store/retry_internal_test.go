package store

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestInTxRetry(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	s := New(d)
	for _, tc := range []struct {
		name      string
		failures  int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"serialization failure retried", 2, &pq.Error{Code: "40001"}, 3, false},
		{"deadlock retried", 1, &pq.Error{Code: "40P01"}, 2, false},
		{"gives up after three", 5, &pq.Error{Code: "40001"}, 3, true},
		{"other error not retried", 5, &pq.Error{Code: "23505"}, 1, true},
		{"plain error not retried", 5, errors.New("boom"), 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := s.inTxRetry(context.Background(), func(tx *sqlx.Tx) error {
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
}
