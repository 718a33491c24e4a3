// Package db opens the project's databases by URL and applies their embedded migrations.
//
// Two stores are supported behind one API: PostgreSQL ("postgres://…", through lib/pq), the
// production store, and SQLite ("sqlite:PATH", through the pure-Go modernc.org/sqlite driver), the
// zero-setup default. Queries are written once with "?" placeholders and rebound per dialect by
// sqlx; every other difference (row locks, error classification, the write queue of SQLite) is
// in this package, behind the DB's methods (dialect.go, errors.go, tx.go): no store asks which
// dialect it runs on.
//
// On SQLite, whose database has one write lock, every write (InTx, ExecContext) first takes
// the DB's write queue, a lock of the process that waits no longer than its context, and only
// then begins IMMEDIATE: the process's writers queue in Go, never by sleeping and retrying
// SQLite's lock, so busy_timeout only matters against other processes (the CLI next to a
// running server). Reads outside transactions take no queue; in WAL mode they wait for no
// writer.
package db

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// Dialect names the SQL dialect of an open database.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrBadURL reports a database URL that names no supported store.
var ErrBadURL = errors.New("unsupported database url")

// DB is an open database: a sqlx handle that knows its dialect. Its query methods (Get,
// Select, Query…) are for reads outside transactions; writes go through its own methods: InTx
// and InTxRetry for transactions, ExecContext and Exec for single statements (and StmtCache's
// Exec and Tx), which take the write queue. A transaction must not be begun any other way.
type DB struct {
	*sqlx.DB
	// Dialect names the database, for logs; stores call the DB's methods instead of
	// branching on it.
	Dialect Dialect
	flavor  flavor
	writes  chan struct{} // the write queue: a lock of capacity 1 on SQLite, nil on PostgreSQL
	// clientPrepared: statements are prepared on the client only (PreparedStatements off).
	clientPrepared bool
}

// Redact returns the URL with any password replaced, for logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects to the database named by rawURL and checks that it answers. maxConns bounds the
// pool (SQLite: the number of concurrent readers; writers queue for the write lock in the
// process, one at a time). opts change the defaults (WithPreparedStatements).
func Open(ctx context.Context, rawURL string, maxConns int, opts ...Option) (*DB, error) {
	if maxConns <= 0 {
		maxConns = 16
	}
	o := options{prepared: PreparedAuto}
	for _, opt := range opts {
		opt(&o)
	}
	var d *DB
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		x, clientPrepared, err := openPostgres(pctx, rawURL, o.prepared)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", Redact(rawURL), err)
		}
		d = &DB{DB: x, Dialect: Postgres, flavor: postgresFlavor(), clientPrepared: clientPrepared}
	case strings.HasPrefix(rawURL, "sqlite:"):
		dsn, err := sqliteDSN(strings.TrimPrefix(rawURL, "sqlite:"))
		if err != nil {
			return nil, err
		}
		x, err := sqlx.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		d = &DB{DB: x, Dialect: SQLite, flavor: sqliteFlavor(), writes: make(chan struct{}, 1)}
	default:
		return nil, fmt.Errorf("%w: %q (want postgres://… or sqlite:PATH)", ErrBadURL, Redact(rawURL))
	}
	d.SetMaxOpenConns(maxConns)
	d.SetMaxIdleConns(maxConns)
	d.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect %s: %w", Redact(rawURL), err)
	}
	return d, nil
}

// sqlitePragmas are set on every SQLite connection unless the URL sets the same pragma
// (`?_pragma=busy_timeout(1)`). mmap_size: reads of the database file are memory-mapped (up to
// 256 MiB, shared by every connection through the OS page cache), where each connection would
// otherwise copy every page it reads into its own 2 MiB cache: with a million users primary
// key lookups ran 1.3 to 1.9 times as fast (docs/operations.md). The mapped pages count in
// the process's resident memory as file pages, which the kernel may drop at any time.
var sqlitePragmas = []string{"journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "busy_timeout(10000)", "mmap_size(268435456)"}

// sqliteDSN turns a path (optionally "file:" prefixed, optionally with its own query) into a
// modernc DSN with sqlitePragmas (WAL, a 10 s busy timeout, foreign keys, memory-mapped reads)
// where the query does not set them, and IMMEDIATE transactions. The parent folder is created.
func sqliteDSN(path string) (string, error) {
	path = strings.TrimPrefix(path, "//")
	base, query, _ := strings.Cut(path, "?")
	if base == "" {
		return "", fmt.Errorf("%w: sqlite url needs a path", ErrBadURL)
	}
	if base != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
			return "", fmt.Errorf("create sqlite folder: %w", err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	for _, p := range sqlitePragmas {
		name, _, _ := strings.Cut(p, "(")
		if !slices.ContainsFunc(q["_pragma"], func(set string) bool { return strings.HasPrefix(set, name+"(") }) {
			q.Add("_pragma", p)
		}
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return "file:" + base + "?" + q.Encode(), nil
}
