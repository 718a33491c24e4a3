package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/jwtauth/jwtauth/db"
)

// CeilingImport bulk-inserts the rows a users import writes: users, their sync events and
// their deliveries, in batches, each batch one transaction, with the store's driver.
const CeilingImport = "import"

// importUserName is the name of the i-th user of the import rows (both the file and the
// ceiling).
func importUserName(i int) string { return fmt.Sprintf("imp%06d", i) }

// runImportCeiling inserts BENCH_USERS users (importUserName, hash BENCH_HASH), each with one
// outbox event and a delivery to BENCH_TARGET, BENCH_BATCH users a transaction, through
// db.InsertRows as the import writes them (COPY on PostgreSQL, multi-row INSERTs on SQLite), into the migrated auth database BENCH_DB_URL. Each batch's rows
// (ids, the event's JSON) are made just before its transaction, as an import makes them; there
// is no file to read, nothing to check and nothing to look up. It writes one Result (users,
// elapsed).
func runImportCeiling(getenv func(string) string, stdout io.Writer) error {
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
	hash, target, now := getenv("BENCH_HASH"), getenv("BENCH_TARGET"), time.Now().UnixMilli()
	start := time.Now()
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		users := make([][]any, 0, to-from)
		events := make([][]any, 0, to-from)
		deliveries := make([][]any, 0, to-from)
		for i := from; i < to; i++ {
			id, ev, name := uuid.NewString(), uuid.NewString(), importUserName(i)
			payload, err := json.Marshal(map[string]any{"id": ev, "type": "user.upsert",
				"user": map[string]any{"id": id, "username": name, "email": name + "@bench.example", "version": 1}, "occurred_at": time.Now().UTC()})
			if err != nil {
				return err
			}
			users = append(users, []any{id, name, name + "@bench.example", hash, 1, now, now, "", 0, 0})
			events = append(events, []any{ev, id, 1, "user.upsert", string(payload), now})
			deliveries = append(deliveries, []any{ev, target, id, 1, now, now})
		}
		err := d.InTx(ctx, func(tx *sqlx.Tx) error {
			for _, t := range []struct {
				table string
				cols  []string
				rows  [][]any
			}{
				{"users", []string{"id", "username", "email", "password_hash", "version", "created_at", "updated_at", "roles", "disabled_at", "last_login_at"}, users},
				{"outbox_events", []string{"id", "user_id", "version", "kind", "payload", "created_at"}, events},
				{"outbox_deliveries", []string{"event_id", "target", "user_id", "version", "created_at", "next_attempt_at"}, deliveries},
			} {
				if err := d.InsertRows(ctx, tx, t.table, t.cols, t.rows); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("batch at %d: %w", from, err)
		}
	}
	return json.NewEncoder(stdout).Encode([]Result{{OK: n, Elapsed: time.Since(start)}})
}
