package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// flavor is every difference of SQL and locking between the dialects, in one value per
// dialect (the model is dexidp/dex's flavor, storage/sql/sql.go). Stores never ask which
// dialect they run on: they call the DB's methods below, which read its flavor.
type flavor struct {
	// forUpdate and forShare end a SELECT of a write transaction to lock its rows until the
	// transaction ends, against writers (FOR SHARE) or against everyone (FOR UPDATE).
	forUpdate, forShare string
	// skipLocked ends a SELECT to lock its rows of the table with the alias given as %s,
	// skipping the rows other transactions hold instead of waiting for them.
	skipLocked string
	// rowLocks: the database locks rows one by one, so a row is locked by a statement of its
	// own; false when a write transaction holds the whole database from its BEGIN.
	rowLocks bool
	// writableCTE: a WITH clause may hold UPDATE … RETURNING and row locks.
	writableCTE bool
	// copyFrom: rows are best written in bulk by COPY … FROM STDIN.
	copyFrom bool
	// preferIndexOrder is run in a transaction to make its planner walk an index matching an
	// ORDER BY rather than sort ("" when nothing needs to be said).
	preferIndexOrder string
	// txLock takes a lock on an int64 key ($1) held until the transaction ends ("" when write
	// transactions are serial anyway).
	txLock string
	// cancelablePointReads: a one-row read by key should keep its request's context.
	cancelablePointReads bool
	// columns lists ("table", "column") of every table of the current schema.
	columns string
	// analyze refreshes the planner's statistics ("" when the planner uses none).
	analyze string
	// activeQueries lists the longest-running statements of other sessions ($1 of them);
	// endOthers ends them ("" when the dialect has no such view).
	activeQueries, endOthers string
	// prefixLike: PrefixMatch is a LIKE (served by text_pattern_ops indexes); else a range.
	prefixLike bool
	// prefixIndexes and dropPrefixIndexes are migration 6 (see PrefixMatch).
	prefixIndexes, dropPrefixIndexes []string
	// functions and dropFunctions are migration 13, the refresh's stored functions (empty
	// when the store sends the statements itself; see StoredFunctions).
	functions, dropFunctions []string
}

func postgresFlavor() flavor {
	return flavor{
		forUpdate:            " FOR UPDATE",
		forShare:             " FOR SHARE",
		skipLocked:           " FOR UPDATE OF %s SKIP LOCKED",
		rowLocks:             true,
		writableCTE:          true,
		copyFrom:             true,
		preferIndexOrder:     `SET LOCAL enable_sort = off`, // reset at the transaction's end
		txLock:               `SELECT pg_advisory_xact_lock($1)`,
		cancelablePointReads: true,
		columns: `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
 WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
		analyze:    `ANALYZE`,
		prefixLike: true,
		// The admin search by username or email prefix (migration 6).
		prefixIndexes: []string{
			`CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops)`,
			`CREATE INDEX users_email_prefix_idx ON users (lower(email) text_pattern_ops)`,
		},
		dropPrefixIndexes: []string{`DROP INDEX users_email_prefix_idx`, `DROP INDEX users_username_prefix_idx`},
		functions:         refreshFunctions,
		dropFunctions:     dropRefreshFunctions,
	}
}

// sqliteFlavor is SQLite's: its write transactions begin IMMEDIATE, so each holds the
// database's only write lock from its BEGIN, and there is no row to lock.
func sqliteFlavor() flavor {
	return flavor{
		columns: `SELECT m.name AS "table", p.name AS "column" FROM sqlite_master m JOIN pragma_table_info(m.name) p
 WHERE m.type = 'table' ORDER BY m.name, p.cid`,
	}
}

// ForUpdate returns the clause that ends a SELECT of a write transaction to lock the rows it
// reads until the transaction ends: " FOR UPDATE" on PostgreSQL, "" on SQLite, whose write
// transactions already hold the database's write lock.
func (d *DB) ForUpdate() string { return d.flavor.forUpdate }

// ForShare is ForUpdate for rows that must not change until the transaction ends but that
// other readers may lock too: " FOR SHARE" on PostgreSQL, "" on SQLite.
func (d *DB) ForShare() string { return d.flavor.forShare }

// SkipLocked returns the clause that ends a SELECT to lock the rows it reads of the table
// aliased alias, skipping those other transactions hold (" FOR UPDATE OF alias SKIP LOCKED" on
// PostgreSQL), so concurrent claimers take different rows instead of queueing. On SQLite it is
// "": the claim holds the database's write lock.
func (d *DB) SkipLocked(alias string) string {
	if d.flavor.skipLocked == "" {
		return ""
	}
	return fmt.Sprintf(d.flavor.skipLocked, alias)
}

// WritableCTE reports whether a WITH clause may hold UPDATE … RETURNING and row locks
// (PostgreSQL), so that a compare-and-swap of several tables can be one statement, with no
// transaction to open and commit.
func (d *DB) WritableCTE() bool { return d.flavor.writableCTE }

// LockRow locks, until tx ends, the row that query (a SELECT of one row by key, rebound, with
// no locking clause) finds, and returns sql.ErrNoRows when it finds none. On PostgreSQL it is a
// statement of its own, so that the statements after it (each with a new snapshot in READ
// COMMITTED) see everything committed before the lock was granted. On SQLite it does nothing:
// the write transaction holds the database's write lock since its BEGIN, and its snapshot
// starts after that.
func (d *DB) LockRow(ctx context.Context, tx *sqlx.Tx, query string, args ...any) error {
	if !d.flavor.rowLocks {
		return nil
	}
	var key any
	return tx.QueryRowxContext(ctx, query+d.flavor.forUpdate, args...).Scan(&key)
}

// PreferIndexOrder makes the rest of tx walk an index that serves an ORDER BY rather than
// sort, whatever the planner's statistics say (PostgreSQL: SET LOCAL enable_sort = off). On
// SQLite it does nothing.
func (d *DB) PreferIndexOrder(ctx context.Context, tx *sqlx.Tx) error {
	if d.flavor.preferIndexOrder == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, d.flavor.preferIndexOrder); err != nil {
		return fmt.Errorf("prefer index order: %w", err)
	}
	return nil
}

// TxLock takes, in tx, a lock on key held until tx ends, so the transactions taking the same
// key run one at a time (PostgreSQL: pg_advisory_xact_lock). On SQLite it does nothing: write
// transactions run one at a time anyway.
func (d *DB) TxLock(ctx context.Context, tx *sqlx.Tx, key int64) error {
	if d.flavor.txLock == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, d.flavor.txLock, key); err != nil {
		return fmt.Errorf("transaction lock %d: %w", key, err)
	}
	return nil
}

// PointReadContext returns the context for a one-row read by key. On SQLite it cannot be
// canceled: database/sql and the modernc driver would each start a goroutine to watch a
// cancelable context, on every query, which costs more than the read itself (the embedded
// database has no network to hang on, and a reader in WAL mode waits for no lock). A context
// already canceled is returned as it is, so the read is not run. On PostgreSQL ctx is returned,
// so a query to a database that stopped answering ends with the request.
func (d *DB) PointReadContext(ctx context.Context) context.Context {
	if d.flavor.cancelablePointReads || ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// Column names one column of a table.
type Column struct {
	Table  string `db:"table"`
	Column string `db:"column"`
}

// Columns lists every column of every table of the database (of its current schema on
// PostgreSQL), by table and then in their order, from the dialect's catalogue.
func (d *DB) Columns(ctx context.Context) ([]Column, error) {
	var cols []Column
	if err := d.SelectContext(ctx, &cols, d.flavor.columns); err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	return cols, nil
}

// Analyze refreshes the planner's statistics (PostgreSQL: ANALYZE), as autovacuum eventually
// does; for tests that must plan as production does after it. On SQLite, whose planner the
// stores leave without statistics, it does nothing.
func (d *DB) Analyze(ctx context.Context) error {
	if d.flavor.analyze == "" {
		return nil
	}
	if _, err := d.ExecContext(ctx, d.flavor.analyze); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// ActiveQuery is a statement running on the database, for diagnostics.
type ActiveQuery struct {
	Secs  float64 `db:"secs"`
	Query string  `db:"query"`
}

// ActiveQueries lists up to n of the longest-running statements of other sessions on this
// database (PostgreSQL's pg_stat_activity), for diagnostics; SQLite has none to show.
func (d *DB) ActiveQueries(ctx context.Context, n int) ([]ActiveQuery, error) {
	if d.flavor.activeQueries == "" {
		return nil, nil
	}
	var out []ActiveQuery
	if err := d.SelectContext(ctx, &out, d.flavor.activeQueries, n); err != nil {
		return nil, fmt.Errorf("active queries: %w", err)
	}
	return out, nil
}

// EndOtherSessions ends every other session's statement on this database (PostgreSQL keeps
// running a query whose client went away), for benchmarks between phases; nothing on SQLite.
func (d *DB) EndOtherSessions(ctx context.Context) error {
	if d.flavor.endOthers == "" {
		return nil
	}
	_, err := d.DB.ExecContext(ctx, d.flavor.endOthers)
	return err
}

// PlansWithStatistics reports whether the planner chooses plans by table statistics (Analyze
// gathers them): tests of plans that go wrong on stale statistics need a workload large
// enough to show it there.
func (d *DB) PlansWithStatistics() bool { return d.flavor.analyze != "" }
