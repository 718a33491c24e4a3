package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// openSQLite opens a SQLite database in a temporary folder with the given extra URL query.
func openSQLite(t testing.TB, query string, maxConns int) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "q.db")+query, maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestSQLiteWritersQueue runs many concurrent writers, in transactions and as single
// statements, on SQLite with a busy timeout far shorter than the queue they form: none may fail
// with SQLITE_BUSY, because writers queue in the process for the write lock instead
// of retrying SQLite's lock on a timer; and none of their updates is lost.
func TestSQLiteWritersQueue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxConns int
	}{
		{"default pool", 16},
		{"pool wider than the writers", 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openSQLite(t, "?_pragma=busy_timeout(20)", tc.maxConns)
			ctx := context.Background()
			if _, err := d.ExecContext(ctx, `CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, `CREATE TABLE log (id TEXT PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, `INSERT INTO counter (id, n) VALUES (1, 0)`); err != nil {
				t.Fatal(err)
			}
			const writers, rounds = 64, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range rounds {
						errs <- write(ctx, d, w%2 == 0, fmt.Sprintf("%d-%d", w, r))
					}
				}()
			}
			wg.Wait()
			close(errs)
			failed := 0
			for err := range errs {
				if err != nil {
					if failed++; failed <= 3 {
						t.Errorf("write: %v", err)
					}
				}
			}
			var n, logged int
			if err := d.GetContext(ctx, &n, `SELECT n FROM counter WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			if err := d.GetContext(ctx, &logged, `SELECT count(*) FROM log`); err != nil {
				t.Fatal(err)
			}
			if got, want := n+logged, writers*rounds; failed > 0 || got != want {
				t.Errorf("%d writes failed; counter %d + log %d = %d, want %d", failed, n, logged, got, want)
			}
		})
	}
}

// write is one write: a read-modify-write transaction of the counter, or a single INSERT
// outside any transaction.
func write(ctx context.Context, d *db.DB, inTx bool, id string) error {
	if !inTx {
		_, err := d.ExecContext(ctx, `INSERT INTO log (id) VALUES (?)`, id)
		return err
	}
	return d.InTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT n FROM counter WHERE id = 1`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE counter SET n = ? WHERE id = 1`, n+1)
		return err
	})
}

// TestSQLiteWriteQueueHonoursContext: a writer waiting in the queue gives up when its context
// ends, with the context's error (no busy timeout decides), and the queue serves the next
// writer once the holder is done.
func TestSQLiteWriteQueueHonoursContext(t *testing.T) {
	d := openSQLite(t, "", 4)
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- d.InTx(ctx, func(tx *sqlx.Tx) error {
			close(holding)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES ('holder')`)
			return err
		})
	}()
	<-holding
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context) error
	}{
		{"transaction", func(ctx context.Context) error {
			return d.InTx(ctx, func(*sqlx.Tx) error { return nil })
		}},
		{"statement", func(ctx context.Context) error {
			_, err := d.ExecContext(ctx, `INSERT INTO t (k) VALUES ('waiter')`)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if err := tc.write(wctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("waiting writer: %v, want context.DeadlineExceeded", err)
			}
		})
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("holder: %v", err)
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO t (k) VALUES ('next')`); err != nil {
		t.Errorf("next writer: %v", err)
	}
}
