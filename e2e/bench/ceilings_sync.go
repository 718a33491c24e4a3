package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// CeilingSyncUpsert upserts the rows a sync replay delivers into app_users, in batches, each
// batch one transaction, with the store's driver: what a resource server's apply path costs
// with nothing else to do.
const CeilingSyncUpsert = "syncupsert"

// syncBatch is the batch of the sync replay row and its ceiling: the relay's default
// BatchSize (auth-server/internal/syncrelay), the events of one POST.
const syncBatch = 250

// runSyncUpsertCeiling upserts BENCH_USERS users (syncUserName) at version 1 into app_users
// of the migrated app database BENCH_DB_URL, BENCH_BATCH users a transaction, each batch one
// multi-row INSERT … ON CONFLICT (id) DO UPDATE … WHERE the stored version is older, the
// statement the resource server's apply path writes users with. Each batch's rows (a fresh id
// per user) are made just before its transaction. There is no HTTP, no token, no event id
// to record, no outbox to claim or mark. It writes one Result (users, elapsed).
func runSyncUpsertCeiling(getenv func(string) string, stdout io.Writer) error {
	ctx := context.Background()
	n, err1 := strconv.Atoi(getenv("BENCH_USERS"))
	batch, err2 := strconv.Atoi(getenv("BENCH_BATCH"))
	if err1 != nil || err2 != nil || n < 1 || batch < 1 {
		return fmt.Errorf("BENCH_USERS %q, BENCH_BATCH %q: want positive numbers", getenv("BENCH_USERS"), getenv("BENCH_BATCH"))
	}
	d, err := db.Open(ctx, getenv("BENCH_DB_URL"), 2)
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		now := time.Now().UnixMilli()
		var q strings.Builder
		args := make([]any, 0, 7*(to-from))
		q.WriteString(`INSERT INTO app_users (id, username, email, version, deleted, created_at, updated_at) VALUES `)
		for i := from; i < to; i++ {
			if i > from {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			name := syncUserName(i)
			args = append(args, uuid.NewString(), name, name+"@bench.example", 1, 0, now, now)
		}
		q.WriteString(` ON CONFLICT (id) DO UPDATE SET username = excluded.username, email = excluded.email, version = excluded.version,
    deleted = excluded.deleted, updated_at = excluded.updated_at
WHERE app_users.version < excluded.version`)
		err := d.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, d.Rebind(q.String()), args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("batch at %d: %w", from, err)
		}
	}
	return json.NewEncoder(stdout).Encode([]Result{{OK: n, Elapsed: time.Since(start)}})
}

// syncUserFormat names the i-th user of the sync rows (the replay and its ceiling).
const syncUserFormat = "sync%07d"

func syncUserName(i int) string { return fmt.Sprintf(syncUserFormat, i) }
