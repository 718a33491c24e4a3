package appstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jwtauth/jwtauth/db"
)

// prepared is a statement of a hot path, prepared on first use and then kept. SQLite then
// skips parsing and planning the SQL on each call; lib/pq saves a round trip to PostgreSQL
// (a query with arguments that is not prepared costs Parse/Describe, then Bind/Execute).
// database/sql prepares it again on each pooled connection that first runs it, and after a
// reconnect. A failed preparation (the database away) is retried on the next call.
type prepared struct {
	query string // already rebound to the dialect
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

func newPrepared(d *db.DB, query string) *prepared {
	return &prepared{query: d.Rebind(query)}
}

// get returns the statement, preparing it on d at the first call.
func (p *prepared) get(ctx context.Context, d *db.DB) (*sql.Stmt, error) {
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := d.PrepareContext(ctx, p.query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	p.stmt.Store(st)
	return st, nil
}

// readCtx is the context of a one-row read by primary key. On SQLite it cannot be canceled:
// database/sql and the modernc driver would each start a goroutine to watch a cancelable
// context, on every query, which cost more than the read itself (the embedded database has no
// network to hang on, and its lock waits are bounded by busy_timeout). A request already
// canceled is not queried. On PostgreSQL the request's context is kept, so a query to a
// database that stopped answering ends with the request.
func (s *Store) readCtx(ctx context.Context) context.Context {
	if s.db.Dialect == db.SQLite && ctx.Err() == nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}
