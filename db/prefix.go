package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"
)

// PrefixMatch returns a condition that expr (a lower-cased text expression) starts with a
// prefix, written so that an index on expr serves it, and the arguments that bind prefix to
// its placeholders. On PostgreSQL it is a LIKE with the wildcards of prefix escaped, which
// the text_pattern_ops indexes of prefixIndexes serve whatever the database's collation; on
// SQLite a byte range [prefix, prefix+1), which an index on expr serves in its BINARY order
// (SQLite's LIKE takes no index on an expression).
func (d *DB) PrefixMatch(expr, prefix string) (string, []any) {
	if d.flavor.prefixLike {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix)
		return expr + ` LIKE ? ESCAPE '\'`, []any{esc + "%"}
	}
	if upper, ok := nextPrefix(prefix); ok {
		return "(" + expr + " >= ? AND " + expr + " < ?)", []any{prefix, upper}
	}
	return expr + " >= ?", []any{prefix}
}

// nextPrefix is the smallest string greater than every string that starts with p, in byte
// order: p with its last byte below 0xff incremented and what follows it dropped; false when
// there is none (p empty or all 0xff).
func nextPrefix(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// goMigrations are the migrations whose statements differ by dialect; every other migration
// is one of the embedded .sql files, one set for both.
func goMigrations(schema Schema, f flavor) []*goose.Migration {
	if schema != AuthSchema {
		return nil
	}
	return []*goose.Migration{
		goose.NewGoMigration(6, &goose.GoFunc{RunTx: execAll(f.prefixIndexes)}, &goose.GoFunc{RunTx: execAll(f.dropPrefixIndexes)}),
		goose.NewGoMigration(13, &goose.GoFunc{RunTx: execAll(f.functions)}, &goose.GoFunc{RunTx: execAll(f.dropFunctions)}),
	}
}

func execAll(stmts []string) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	}
}
