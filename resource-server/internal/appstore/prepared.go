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
