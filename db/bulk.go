package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// insertRowsMax bounds the rows of one multi-row INSERT, keeping its parameters well below
// SQLite's limit (32,766).
const insertRowsMax = 500

// InsertRows writes rows (each a value per column of cols, in order) into table in tx: on
// PostgreSQL as one COPY … FROM STDIN, which the server neither parses nor plans per row
// (a 500-row INSERT's bind alone took 25–40 ms, as long as its commit); on SQLite as
// multi-row INSERTs of insertRowsMax rows. Either way a row that breaks a constraint fails
// the whole call (IsUniqueViolation tells a duplicate key), and tx should then be rolled back.
func (d *DB) InsertRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if d.flavor.copyFrom {
		return copyRows(ctx, tx, table, cols, rows)
	}
	prefix := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	tuple := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertRowsMax)]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(prefix)
		args := make([]any, 0, len(chunk)*len(cols))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(q.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// copyRows is InsertRows on PostgreSQL: lib/pq runs a statement prepared from COPY … FROM
// STDIN as a copy, each Exec sending a row and the last, without arguments, ending it.
func copyRows(ctx context.Context, tx *sqlx.Tx, table string, cols []string, rows [][]any) error {
	st, err := tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	_, err = st.ExecContext(ctx)
	return err
}
