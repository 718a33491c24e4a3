package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
)

// BenchmarkSQLiteLookup looks up app_users by primary key from 16 goroutines on a SQLite
// database of 1,000 and of 1,000,000 rows (keys spread over every row, or over a hot thousand),
// with the default pragmas (memory-mapped reads), with mmap off, and with mmap off and a
// 16 MiB cache per connection: what chose sqlitePragmas' mmap_size (docs/performance.md, "At
// scale"). Filling the large table takes about a minute, so it is not in make bench:
//
//	go test -run '^$' -bench SQLiteLookup -benchtime 3s ./db/
func BenchmarkSQLiteLookup(b *testing.B) {
	ctx := context.Background()
	for _, rows := range []int{1000, 1000000} {
		path := filepath.Join(b.TempDir(), "app.db")
		ids := fillAppUsers(b, path, rows)
		hots := []int{rows}
		if rows > 1000 {
			hots = []int{1000, rows}
		}
		for _, hot := range hots {
			for _, opt := range []struct{ name, query string }{
				{"default", ""}, {"no-mmap", "?_pragma=mmap_size(0)"}, {"no-mmap-16MiB-cache", "?_pragma=mmap_size(0)&_pragma=cache_size(-16384)"},
			} {
				b.Run(fmt.Sprintf("rows=%d/hot=%d/%s", rows, hot, opt.name), func(b *testing.B) {
					d, err := db.Open(ctx, "sqlite:"+path+opt.query, 16)
					if err != nil {
						b.Fatal(err)
					}
					defer d.Close()
					b.SetParallelism(8) // 16 goroutines on 2 CPUs
					b.RunParallel(func(pb *testing.PB) {
						var name string
						for pb.Next() {
							id := ids[rand.IntN(hot)*(len(ids)/hot)]
							if err := d.GetContext(ctx, &name, `SELECT username FROM app_users WHERE id = ?`, id); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}

// fillAppUsers creates a migrated app database at path with rows app users and returns their ids.
func fillAppUsers(b *testing.B, path string, rows int) []string {
	b.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+path, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, db.AppSchema); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, rows)
	for from := 0; from < rows; from += 500 {
		var q strings.Builder
		var args []any
		q.WriteString(`INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at) VALUES `)
		for i := from; i < min(from+500, rows); i++ {
			if i > from {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, 1, 0, 0, 0)")
			id, name := uuid.NewString(), fmt.Sprintf("user%07d", i)
			ids = append(ids, id)
			args = append(args, id, name, name+"@bench.example")
		}
		if _, err := d.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}
