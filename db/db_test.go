package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestMigrateTwiceAndBothSchemasInOneDatabase(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, s := range []db.Schema{db.AuthSchema, db.AppSchema, db.AppSchema} {
			if err := db.Migrate(ctx, d, s); err != nil {
				t.Fatalf("migrate %s: %v", s, err)
			}
		}
		var n int
		if err := d.GetContext(ctx, &n, "SELECT count(*) FROM app_users"); err != nil {
			t.Fatalf("app schema missing: %v", err)
		}
		if err := d.GetContext(ctx, &n, "SELECT version FROM key_set WHERE id = 1"); err != nil || n != 0 {
			t.Fatalf("key_set = %d, %v", n, err)
		}
	})
}

func TestCaseInsensitiveUniqueIndex(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins := d.Rebind("INSERT INTO users (id, username, email, password_hash, version, created_at, updated_at) VALUES (?, ?, ?, 'x', 1, 0, 0)")
		if _, err := d.ExecContext(ctx, ins, "1", "Alice", "a@x.io"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, ins, "2", "aLICE", "b@x.io"); err == nil {
			t.Fatal("second username differing only in case was accepted")
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"mysql://x", "", "sqlite:"} {
		if _, err := db.Open(context.Background(), u, 1); !errors.Is(err, db.ErrBadURL) {
			t.Errorf("Open(%q) = %v, want ErrBadURL", u, err)
		}
	}
}

// TestSQLitePragmas: every SQLite connection gets the defaults (WAL, a 10 s busy timeout,
// foreign keys, memory-mapped reads) unless the URL sets the same pragma, which wins.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		query      string
		mmap, busy int64
	}{
		{"", 268435456, 10000},
		{"?_pragma=mmap_size(0)&_pragma=busy_timeout(20)", 0, 20},
	}
	for _, tc := range cases {
		d, err := db.Open(ctx, "sqlite:"+t.TempDir()+"/p.db"+tc.query, 2)
		if err != nil {
			t.Fatal(err)
		}
		var mmap, busy, fk int64
		var mode string
		for _, p := range []struct {
			pragma string
			into   any
		}{{"mmap_size", &mmap}, {"busy_timeout", &busy}, {"foreign_keys", &fk}, {"journal_mode", &mode}} {
			if err := d.GetContext(ctx, p.into, "PRAGMA "+p.pragma); err != nil {
				t.Fatalf("%q: PRAGMA %s: %v", tc.query, p.pragma, err)
			}
		}
		_ = d.Close()
		if mmap != tc.mmap || busy != tc.busy || fk != 1 || mode != "wal" {
			t.Errorf("%q: mmap_size %d, busy_timeout %d, foreign_keys %d, journal_mode %s; want %d, %d, 1, wal",
				tc.query, mmap, busy, fk, mode, tc.mmap, tc.busy)
		}
	}
}
