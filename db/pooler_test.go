package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/pgbouncertest"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestParsePreparedStatements(t *testing.T) {
	for in, want := range map[string]db.PreparedStatements{"": db.PreparedAuto, "auto": db.PreparedAuto, "ON": db.PreparedOn, " off ": db.PreparedOff} {
		if got, err := db.ParsePreparedStatements(in); err != nil || got != want {
			t.Errorf("ParsePreparedStatements(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := db.ParsePreparedStatements("yes"); err == nil {
		t.Error(`ParsePreparedStatements("yes") accepted`)
	}
}

// pooled returns a fresh migrated PostgreSQL database's direct URL and the URL of a
// transaction-mode pgbouncer in front of it.
func pooled(t *testing.T) (direct, pooler string) {
	direct = testdb.PostgresURL(t)
	testdb.Open(t, direct, db.AuthSchema)
	return direct, pgbouncertest.Start(t, direct, pgbouncertest.Options{PoolSize: 3})
}

func open(t *testing.T, rawURL string, opts ...db.Option) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), rawURL, 8, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(rawURL), err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestAutoFindsThePooler(t *testing.T) {
	direct, pooler := pooled(t)
	if d := open(t, direct); !d.NamedStatements() {
		t.Error("direct connection: auto turned named statements off")
	}
	if d := open(t, pooler); d.NamedStatements() {
		t.Error("through pgbouncer: auto kept named statements")
	}
	if d := open(t, pooler, db.WithPreparedStatements(db.PreparedOn)); !d.NamedStatements() {
		t.Error("on: named statements off")
	}
	if d := open(t, direct, db.WithPreparedStatements(db.PreparedOff)); d.NamedStatements() {
		t.Error("off: named statements on")
	}
}

// workload runs, from 8 goroutines at once, what the stores do: a StmtCache statement read
// outside a transaction, one written outside, one bound to a transaction, and a plain
// parameterised query; it returns the errors.
func workload(d *db.DB) []error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := db.NewStmtCache(d)
	read := d.Rebind(`SELECT count(*) FROM users WHERE id <> ?`)
	write := d.Rebind(`UPDATE key_set SET version = version WHERE id = ?`)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				err := func() error {
					st, err := c.Get(ctx, read)
					if err != nil {
						return err
					}
					var n int
					if err := st.GetContext(ctx, &n, fmt.Sprint(g, i)); err != nil {
						return fmt.Errorf("cached read: %w", err)
					}
					if _, err := c.Exec(ctx, write, 1); err != nil {
						return fmt.Errorf("cached write: %w", err)
					}
					if err := d.GetContext(ctx, &n, read, "x"); err != nil {
						return fmt.Errorf("plain read: %w", err)
					}
					return d.InTx(ctx, func(tx *sqlx.Tx) error {
						if err := d.TxLock(ctx, tx, 42); err != nil {
							return err
						}
						ps, err := c.Tx(ctx, tx, write)
						if err != nil {
							return err
						}
						_, err = ps.ExecContext(ctx, 1)
						return err
					})
				}()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestNamedStatementsBreakBehindTransactionPooler shows why the mode exists: through a
// transaction-mode pgbouncer, named prepared statements fail (each statement outside a
// transaction may reach another server connection than the one that prepared it), while
// the pooler-safe mode (auto finds the pooler) runs the same workload without an error.
func TestNamedStatementsBreakBehindTransactionPooler(t *testing.T) {
	_, pooler := pooled(t)
	errs := workload(open(t, pooler, db.WithPreparedStatements(db.PreparedOn)))
	if len(errs) == 0 {
		t.Fatal("named prepared statements through a transaction-mode pgbouncer: no error; the pooler-safe mode would not be needed")
	}
	if !strings.Contains(errs[0].Error(), "prepared statement") {
		t.Errorf("first error %q does not name a prepared statement", errs[0])
	}
	t.Logf("%d errors with named statements, the first: %v", len(errs), errs[0])
	if errs := workload(open(t, pooler)); len(errs) > 0 {
		t.Fatalf("pooler-safe mode: %d errors, the first: %v", len(errs), errs[0])
	}
}

// TestMigrateThroughPooler migrates both schemas through a transaction-mode pgbouncer from
// two processes' worth of DBs at once (the replicas of a deployment starting together), then
// again: the table lock replaces the session advisory lock, which the pooler would leave held.
func TestMigrateThroughPooler(t *testing.T) {
	direct := testdb.PostgresURL(t)
	pooler := pgbouncertest.Start(t, direct, pgbouncertest.Options{PoolSize: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		d := open(t, pooler)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range []db.Schema{db.AuthSchema, db.AppSchema} {
				if err := db.Migrate(context.Background(), d, s); err != nil {
					errs <- fmt.Errorf("migrate %s: %w", s, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d := open(t, pooler)
	if err := db.Migrate(context.Background(), d, db.AuthSchema); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	var n int
	if err := d.GetContext(context.Background(), &n, "SELECT version FROM key_set WHERE id = 1"); err != nil {
		t.Fatalf("auth schema through the pooler: %v", err)
	}
	if err := d.GetContext(context.Background(), &n, "SELECT count(*) FROM app_users"); err != nil {
		t.Fatalf("app schema through the pooler: %v", err)
	}
}

// TestCopyWithClientStatements: lib/pq's COPY (pq.CopyIn, prepared in a transaction) still
// works with statements prepared on the client.
func TestCopyWithClientStatements(t *testing.T) {
	d := open(t, testdb.PostgresURL(t), db.WithPreparedStatements(db.PreparedOff))
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE copied (n BIGINT NOT NULL)`); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `COPY "copied" ("n") FROM STDIN`) // what pq.CopyIn builds
		if err != nil {
			return err
		}
		for i := range 100 {
			if _, err := st.ExecContext(ctx, i); err != nil {
				return err
			}
		}
		if _, err := st.ExecContext(ctx); err != nil {
			return err
		}
		return st.Close()
	})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	var n int
	if err := d.GetContext(ctx, &n, `SELECT count(*) FROM copied`); err != nil || n != 100 {
		t.Fatalf("copied %d rows, %v; want 100", n, err)
	}
}
