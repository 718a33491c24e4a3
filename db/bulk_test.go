package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/pgbouncertest"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// TestInsertRows: rows written in bulk (COPY on PostgreSQL, multi-row INSERTs on SQLite) read
// back exactly, text that COPY's format escapes included, over more rows than one INSERT
// takes; a duplicate key anywhere fails the whole call, as IsUniqueViolation tells, and the
// transaction leaves nothing.
func TestInsertRows(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) { checkInsertRows(t, d) })
}

// TestInsertRowsThroughPooler: the COPY works through a transaction-mode pgbouncer with the
// pooler-safe mode (the statement runs in the transaction, on its server connection).
func TestInsertRowsThroughPooler(t *testing.T) {
	if pgbouncertest.Binary() == "" {
		t.Skip("pgbouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)")
	}
	_, pooler := pooled(t)
	checkInsertRows(t, open(t, pooler))
}

func checkInsertRows(t *testing.T, d *db.DB) {
	ctx := context.Background()
	cols := []string{"throttle_key", "failures", "window_start", "blocked_until"}
	odd := "tab\there, new\nline, back\\slash, quote ' \" and é"
	rows := make([][]any, 1200)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("k%04d %s", i, odd), int64(i), int64(-i), int64(1) << 40}
	}
	if err := d.InTx(ctx, func(tx *sqlx.Tx) error { return d.InsertRows(ctx, tx, "login_throttle", cols, rows) }); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Key     string `db:"throttle_key"`
		Fail    int64  `db:"failures"`
		Window  int64  `db:"window_start"`
		Blocked int64  `db:"blocked_until"`
	}
	if err := d.SelectContext(ctx, &got, `SELECT throttle_key, failures, window_start, blocked_until FROM login_throttle ORDER BY throttle_key`); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows read back, want %d", len(got), len(rows))
	}
	for i, r := range got {
		if r.Key != rows[i][0] || r.Fail != int64(i) || r.Window != int64(-i) || r.Blocked != 1<<40 {
			t.Fatalf("row %d = %+v, want %v", i, r, rows[i])
		}
	}
	dup := [][]any{{"fresh", int64(0), int64(0), int64(0)}, rows[7]}
	err := d.InTx(ctx, func(tx *sqlx.Tx) error { return d.InsertRows(ctx, tx, "login_throttle", cols, dup) })
	if !db.IsUniqueViolation(err) {
		t.Fatalf("a duplicate key: %v, want a unique violation", err)
	}
	var n int
	if err := d.GetContext(ctx, &n, d.Rebind(`SELECT count(*) FROM login_throttle WHERE throttle_key = ?`), "fresh"); err != nil || n != 0 {
		t.Errorf("the failed call left %d rows, %v", n, err)
	}
}
