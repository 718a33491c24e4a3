package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PreparedStatements says whether a PostgreSQL DB may keep named server-side prepared
// statements (DB_PREPARED_STATEMENTS).
//
// A connection pooler in transaction mode (PgBouncer's pool_mode = transaction, before 1.21
// with no support at all for prepared statements, as Debian ships it) hands each transaction,
// and each statement outside one, to whichever server connection is free: a statement prepared
// on one server connection is then missing on the next ("prepared statement … does not
// exist"), and two clients' statements of the same name meet on one ("… already exists").
// lib/pq's plain parameterised query is no better by default: it parses the unnamed statement
// and binds it in two exchanges, each ending with a Sync the pooler may route elsewhere
// ("unnamed prepared statement does not exist"); so every connection, in either mode, sends
// it in one (binary_parameters).
//
// With prepared statements off, the DB's statements (StmtCache's included) are prepared on the
// client only: each run is one unnamed Parse/Bind/Execute/Sync exchange, one round trip as a
// named statement's run is, without the server-side plan it saves. Migrations then take goose's table lock instead of its session advisory
// lock, which a pooler would leave held on a server connection the migration no longer owns.
// Everything else the DB does is transaction-scoped already (pg_advisory_xact_lock, SET LOCAL)
// and nothing LISTENs.
type PreparedStatements string

// The values of DB_PREPARED_STATEMENTS.
const (
	// PreparedAuto is on, unless the server, asked which port it serves the connection on,
	// names another than the URL's (or none, serving it over a Unix socket while the URL
	// named a TCP port): something in between, which may be a pooler. A pooler on the
	// server's own port (another host, same port), or reached over a Unix socket, is not
	// seen: set off there.
	PreparedAuto PreparedStatements = "auto"
	// PreparedOn keeps named server-side statements (a direct connection, or a pooler in
	// session mode).
	PreparedOn PreparedStatements = "on"
	// PreparedOff prepares on the client only (a pooler in transaction or statement mode).
	PreparedOff PreparedStatements = "off"
)

// ParsePreparedStatements reads a DB_PREPARED_STATEMENTS value ("" is auto).
func ParsePreparedStatements(s string) (PreparedStatements, error) {
	switch m := PreparedStatements(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return PreparedAuto, nil
	case PreparedAuto, PreparedOn, PreparedOff:
		return m, nil
	}
	return "", fmt.Errorf("invalid %q (want auto, on or off)", s)
}

// Option changes how Open opens a database.
type Option func(*options)

type options struct {
	prepared PreparedStatements
}

// WithPreparedStatements sets whether a PostgreSQL DB keeps named server-side prepared
// statements (see PreparedStatements; the default is PreparedAuto). SQLite always does.
func WithPreparedStatements(m PreparedStatements) Option {
	return func(o *options) { o.prepared = m }
}

// NamedStatements reports whether the DB prepares its statements on the server (false on
// PostgreSQL behind a transaction-mode pooler, see PreparedStatements).
func (d *DB) NamedStatements() bool { return !d.clientPrepared }

// openPostgres opens rawURL through lib/pq, with named statements or without (mode; auto asks
// the server, see PreparedAuto).
func openPostgres(ctx context.Context, rawURL string, mode PreparedStatements) (*sqlx.DB, bool, error) {
	cfg, err := pq.NewConfig(rawURL)
	if err != nil {
		return nil, false, fmt.Errorf("open postgres: %w", err)
	}
	if mode == PreparedAuto {
		behind, err := behindProxy(ctx, cfg)
		if err != nil {
			return nil, false, err
		}
		mode = PreparedOn
		if behind {
			mode = PreparedOff
		}
	}
	// Either way a statement run without preparing it (a parameterised query outside the
	// StmtCache) is one Parse/Bind/Execute/Sync exchange instead of lib/pq's default two (a
	// Parse/Describe/Sync and then the Bind/Execute/Sync): every transaction of a log-in or a
	// sign-up pays one round trip a statement, not two.
	cfg.BinaryParameters = true
	if mode == PreparedOn {
		c, err := pq.NewConnectorConfig(cfg)
		if err != nil {
			return nil, false, fmt.Errorf("open postgres: %w", err)
		}
		return sqlx.NewDb(sql.OpenDB(c), "postgres"), false, nil
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, false, fmt.Errorf("open postgres: %w", err)
	}
	return sqlx.NewDb(sql.OpenDB(clientPrepared{c}), "postgres"), true, nil
}

// behindProxy connects once to cfg and reports whether the server serves the connection on
// another port than the one dialled: a pooler or proxy between (see PreparedAuto).
func behindProxy(ctx context.Context, cfg pq.Config) (bool, error) {
	want, tcp := dialledPort(cfg)
	if !tcp {
		return false, nil
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return false, fmt.Errorf("open postgres: %w", err)
	}
	probe := sql.OpenDB(c)
	defer probe.Close()
	var port sql.NullInt64
	if err := probe.QueryRowContext(ctx, `SELECT inet_server_port()`).Scan(&port); err != nil {
		return false, fmt.Errorf("ask the server which port it serves: %w", err)
	}
	return !port.Valid || port.Int64 != int64(want), nil
}

// dialledPort is the TCP port cfg connects to, and false when it connects over a Unix socket.
func dialledPort(cfg pq.Config) (int, bool) {
	if strings.HasPrefix(cfg.Host, "/") || strings.HasPrefix(cfg.Host, "@") {
		return 0, false
	}
	if cfg.Port == 0 {
		return 5432, true
	}
	return int(cfg.Port), true
}

// clientPrepared is lib/pq's connector whose connections prepare statements on the client:
// Prepare keeps the query, and each run sends it unnamed with its arguments (see
// PreparedStatements). Everything else is lib/pq's.
type clientPrepared struct{ c *pq.Connector }

func (p clientPrepared) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := p.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	full, ok := cn.(pqConn)
	if !ok {
		_ = cn.Close()
		return nil, fmt.Errorf("lib/pq connection %T lacks the interfaces a client-prepared connection needs", cn)
	}
	return clientPreparedConn{full}, nil
}

func (p clientPrepared) Driver() driver.Driver { return p.c.Driver() }

// pqConn is what database/sql uses of a lib/pq connection.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

type clientPreparedConn struct{ pqConn }

func (c clientPreparedConn) Prepare(query string) (driver.Stmt, error) {
	if isCopy(query) {
		return c.pqConn.Prepare(query) // lib/pq's COPY … FROM STDIN (pq.CopyIn), in a transaction
	}
	return clientStmt{c.pqConn, query}, nil
}

func (c clientPreparedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if isCopy(query) {
		return c.pqConn.PrepareContext(ctx, query)
	}
	return clientStmt{c.pqConn, query}, nil
}

// isCopy reports whether query is a COPY, which lib/pq runs as a statement of its own.
func isCopy(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	return len(q) >= 4 && strings.EqualFold(q[:4], "COPY")
}

// clientStmt is a statement prepared on the client: its query, run unnamed on its connection.
type clientStmt struct {
	cn    pqConn
	query string
}

func (s clientStmt) Close() error  { return nil }
func (s clientStmt) NumInput() int { return -1 }

func (s clientStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s clientStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s clientStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.cn.ExecContext(ctx, s.query, args)
}

func (s clientStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.cn.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
