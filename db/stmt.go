package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// StmtCache keeps the statements of hot paths prepared once, for the life of the DB. SQLite
// then skips parsing and planning the SQL on each call; lib/pq saves a round trip to
// PostgreSQL (a query with arguments that is not prepared costs Parse/Describe, then
// Bind/Execute), and PostgreSQL the planning, which cost it more CPU on the refresh path than
// running the statements. database/sql prepares a statement again on each pooled connection
// that first runs it, and after a reconnect. A failed preparation (the database away) is not
// kept: the next call prepares again. Safe for concurrent use.
type StmtCache struct {
	d     *DB
	mu    sync.Mutex // serialises preparations, so that a statement is prepared once
	stmts sync.Map   // query → *sqlx.Stmt
}

// NewStmtCache returns an empty cache of statements of d.
func NewStmtCache(d *DB) *StmtCache { return &StmtCache{d: d} }

// Get returns query (already rebound) prepared, for reads outside any transaction. Writes go
// through Exec or Tx, which take the write queue.
func (c *StmtCache) Get(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := c.d.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.stmts.Store(query, st)
	return st, nil
}

// Exec runs the prepared query (already rebound) outside any transaction, in the DB's write
// queue (see DB.ExecContext).
func (c *StmtCache) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.Get(ctx, query)
	if err != nil {
		return nil, err
	}
	leave, err := c.d.enqueue(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return st.ExecContext(ctx, args...)
}

// ExecInt is Exec for a write that returns one integer (a stored function's result, say),
// which it returns.
func (c *StmtCache) ExecInt(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := c.Get(ctx, query)
	if err != nil {
		return 0, err
	}
	leave, err := c.d.enqueue(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	var n int64
	err = st.QueryRowContext(ctx, args...).Scan(&n)
	return n, err
}

// Tx returns the prepared query (already rebound) bound to tx, a transaction of the DB (InTx);
// the statement is closed with tx.
func (c *StmtCache) Tx(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	st, err := c.Get(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtxContext(ctx, st), nil
}
