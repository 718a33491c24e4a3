package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestFlavorStatementsRun runs every clause and statement of the dialect's flavor on its
// database, in a write transaction, so a typo in either flavor fails here.
func TestFlavorStatementsRun(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		sel := `SELECT u.id FROM users u WHERE u.id = ?`
		for _, tc := range []struct {
			name string
			run  func(tx *sqlx.Tx) error
		}{
			{"for update", func(tx *sqlx.Tx) error { return selectNone(ctx, tx, d.Rebind(sel)+d.ForUpdate()) }},
			{"for share", func(tx *sqlx.Tx) error { return selectNone(ctx, tx, d.Rebind(sel)+d.ForShare()) }},
			{"skip locked", func(tx *sqlx.Tx) error { return selectNone(ctx, tx, d.Rebind(sel)+d.SkipLocked("u")) }},
			{"lock row", func(tx *sqlx.Tx) error {
				if err := d.LockRow(ctx, tx, d.Rebind(sel), "none"); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				return nil
			}},
			{"prefer index order", func(tx *sqlx.Tx) error { return d.PreferIndexOrder(ctx, tx) }},
			{"tx lock", func(tx *sqlx.Tx) error { return d.TxLock(ctx, tx, 42) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := d.InTx(ctx, tc.run); err != nil {
					t.Error(err)
				}
			})
		}
	})
}

func selectNone(ctx context.Context, tx *sqlx.Tx, query string) error {
	var id string
	if err := tx.GetContext(ctx, &id, query, "none"); !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return nil
}

// TestPointReadContext: an already canceled context is never made live, so a read for a
// request that has gone is not run.
func TestPointReadContext(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if got := d.PointReadContext(ctx).Err(); got == nil {
			t.Error("a canceled context was made live")
		}
	})
}
