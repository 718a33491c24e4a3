package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// The write side: every transaction, and every statement run outside one through the DB, first
// takes the write queue (on SQLite; on PostgreSQL there is none and rows lock one by one).

// enqueue waits for the write queue as long as ctx allows and returns the function that leaves
// it. An error wraps ctx's.
func (d *DB) enqueue(ctx context.Context) (func(), error) {
	if d.writes == nil {
		return func() {}, nil
	}
	select {
	case d.writes <- struct{}{}:
		return func() { <-d.writes }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the write queue: %w", ctx.Err())
	}
}

// InTx runs fn in a write transaction, committing when fn returns nil and rolling back
// otherwise. On SQLite it first waits in the write queue, as long as ctx allows, and the
// transaction begins IMMEDIATE: it holds the database's write lock from its BEGIN. fn must not
// write through d itself (ExecContext, InTx): on SQLite that would wait for its own queue.
func (d *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	leave, err := d.enqueue(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer leave()
	tx, err := d.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InTxRetry is InTx, run again from the start while it fails with an error that IsRetryable
// (PostgreSQL chose it as the victim of a serialization failure or a deadlock; another process
// held SQLite's write lock past the busy timeout), at most attempts times in all, and not once
// ctx is done. fn must therefore be free of side effects outside tx. It returns the last error.
func (d *DB) InTxRetry(ctx context.Context, attempts int, fn func(tx *sqlx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.InTx(ctx, fn)
		if err == nil || attempt >= attempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// ExecContext runs a statement outside any transaction, in the write queue.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	leave, err := d.enqueue(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return d.DB.ExecContext(ctx, query, args...)
}

// Exec is ExecContext with the background context.
func (d *DB) Exec(query string, args ...any) (sql.Result, error) {
	return d.ExecContext(context.Background(), query, args...)
}
