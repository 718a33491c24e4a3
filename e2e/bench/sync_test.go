package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// syncPhase measures `auth-server sync replay` of -sync-users users to a resource server,
// both servers on every CPU, against a ceiling that upserts the same rows into app_users of a
// fresh app database of the same store, with the same driver and batch size, in the same run.
func (h *harness) syncPhase(st storeCfg) error {
	rsAddr, err := FreePort()
	if err != nil {
		return err
	}
	auth, err := h.startAuth(st, h.all, "http://"+rsAddr+"/sync/users")
	if err != nil {
		return err
	}
	defer auth.Stop()
	rs, err := h.startRS(st, h.all, rsAddr, auth.Addr)
	if err != nil {
		return err
	}
	defer rs.Stop()
	ceil := h.syncCeiling(st)
	h.addCeiling(ceil)
	h.syncRow(st, rs, ceil)
	auth.Stop()
	return h.quiesce(st)
}

// syncCeiling runs the upsert ceiling (CeilingSyncUpsert) once, on every CPU, into a fresh
// migrated app database of st.
func (h *harness) syncCeiling(st storeCfg) Row {
	n := *syncUsers
	name := fmt.Sprintf("sync: replay of %s users", num(float64(n), ""))
	ceil := Row{Store: st.Name, Name: fmt.Sprintf("multi-row upsert of the same rows into app_users, batches of %d, same driver|upsert ceiling", syncBatch),
		Where: cpuLabel(h.all), Unit: "users/s", Conc: 1, Paired: name}
	ceil.Name, ceil.Short, _ = strings.Cut(ceil.Name, "|")
	url := "sqlite:" + filepath.Join(h.dir, "sync-ceiling.db")
	if st.Name == "PostgreSQL" {
		url = testdb.PostgresURL(h.b)
	}
	d, err := db.Open(h.ctx, url, 1)
	if err != nil {
		ceil.Err = err
		return ceil
	}
	err = db.Migrate(h.ctx, d, db.AppSchema)
	_ = d.Close()
	if err != nil {
		ceil.Err = fmt.Errorf("migrate the ceiling's app database: %w", err)
		return ceil
	}
	ceil.Fig, ceil.Err = RunCeilingJob(h.ctx, h.self, CeilingSyncUpsert, h.all, []string{"BENCH_DB_URL=" + url,
		"BENCH_USERS=" + strconv.Itoa(n), "BENCH_BATCH=" + strconv.Itoa(syncBatch)})
	return ceil
}

// syncJudgedFrom is the smallest replay whose rate is judged against the upsert ceiling.
const syncJudgedFrom = 100000

// syncRow inserts -sync-users users into the auth database, runs `auth-server sync replay`,
// and measures until the resource server's database has them all; the target is half the
// upsert ceiling ceil.
func (h *harness) syncRow(st storeCfg, rs *Proc, ceil Row) {
	n := *syncUsers
	row := Row{Store: st.Name, Name: fmt.Sprintf("sync: replay of %s users", num(float64(n), "")), Conc: 1, Unit: "events/s"}
	var delivered int
	delivered, row.Fig, row.Notes, row.Err = h.syncReplay(st, rs, n)
	if row.Err == nil && ceil.Err != nil {
		row.Err = fmt.Errorf("its ceiling failed: %w", ceil.Err)
	}
	if row.Err == nil {
		row.Checks = []Check{{What: "users", Target: "every replayed user delivered", Got: float64(delivered), Want: float64(n), Unit: "users"}}
		if n >= syncJudgedFrom {
			row.Checks = append(row.Checks, Check{What: "events/s", Target: fmt.Sprintf("≥ 0.5 × %s (%s)", ceil.Short, num(ceil.Fig.Rate(), ceil.Unit)),
				Got: row.Fig.Rate(), Want: 0.5 * ceil.Fig.Rate(), Unit: "events/s"})
		} else {
			row.Notes = append(row.Notes, fmt.Sprintf("%.2f × the %s; the 0.5 × target is judged from %s users (the scale run: -sync-users 1000000), since below that the command's start and the relay's first poll outweigh the rows",
				row.Fig.Rate()/ceil.Fig.Rate(), ceil.Short, num(float64(syncJudgedFrom), "")))
		}
	}
	h.add(row)
}

func (h *harness) syncReplay(st storeCfg, rs *Proc, users int) (int, Figure, []string, error) {
	wait := syncWait(users)
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Minute+wait+time.Duration(users)*time.Millisecond)
	defer cancel()
	ad, err := db.Open(ctx, st.AuthURL, 2)
	if err != nil {
		return 0, Figure{}, nil, err
	}
	defer ad.Close()
	if err := insertUsers(ctx, ad, syncUserFormat, users); err != nil {
		return 0, Figure{}, nil, err
	}
	app, err := db.Open(ctx, st.AppURL, 2)
	if err != nil {
		return 0, Figure{}, nil, err
	}
	defer app.Close()
	cmd := Command(ctx, "", h.bin+"/auth-server", "sync", "replay")
	cmd.Env, cmd.Dir = append(BaseEnv(), h.authEnv(st, "http://"+rs.Addr+"/sync/users")...), h.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, Figure{}, nil, fmt.Errorf("auth-server sync replay: %w: %s", err, lastLine(string(out)))
	}
	enqueued := time.Since(start)
	wctx, wcancel := context.WithDeadline(ctx, start.Add(wait))
	defer wcancel()
	n, err := waitSynced(wctx, app, users)
	elapsed := time.Since(start)
	notes := []string{fmt.Sprintf("`auth-server sync replay` returned after %s; the last user arrived %s after it started (events/s counts from the start); both servers on %s; batches of %d (the relay's default)",
		enqueued.Round(time.Millisecond), elapsed.Round(time.Millisecond), cpuLabel(h.all), syncBatch)}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		notes[0] = fmt.Sprintf("only %d of %d users had arrived %s after `auth-server sync replay` started (it returned after %s); the bench stops waiting there",
			n, users, wait, enqueued.Round(time.Millisecond))
		notes = append(notes, activeQueries(ctx, ad)...)
		err = nil
	}
	fig := Figure{Runs: []Result{{OK: n, Elapsed: elapsed}}}
	if err != nil {
		return n, fig, notes, fmt.Errorf("%d of %d users delivered: %w", n, users, err)
	}
	return n, fig, notes, nil
}

// syncWait bounds the sync row, so a slow relay cannot push `make bench` past its budget: a
// minute, and 2 ms more per user (500 events/s) for the scale run.
func syncWait(users int) time.Duration { return time.Minute + time.Duration(users)*2*time.Millisecond }

// activeQueries lists the auth database's longest-running statements, to show where a
// stalled relay waits (PostgreSQL only: db.ActiveQueries).
func activeQueries(ctx context.Context, d *db.DB) []string {
	qs, err := d.ActiveQueries(ctx, 3)
	if err != nil {
		return []string{fmt.Sprintf("active queries: %v", err)}
	}
	out := make([]string, 0, len(qs))
	for _, q := range qs {
		out = append(out, fmt.Sprintf("pg_stat_activity at the deadline: running for %.1f s: `%s`", q.Secs, q.Query))
	}
	return out
}

// insertUsers writes n users named fmt.Sprintf(format, i) straight into the auth database
// (they never log in, so a placeholder hash will do), 500 a statement, as an import would.
func insertUsers(ctx context.Context, d *db.DB, format string, n int) error {
	const batch = 500
	now := time.Now().UnixMilli()
	for from := 0; from < n; from += batch {
		var (
			q    strings.Builder
			args []any
		)
		q.WriteString(`INSERT INTO users (id, username, email, password_hash, version, created_at, updated_at) VALUES `)
		for i := from; i < min(from+batch, n); i++ {
			if i > from {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, 1, ?, ?)")
			name := fmt.Sprintf(format, i)
			args = append(args, uuid.NewString(), name, name+"@bench.example", "bench-placeholder", now, now)
		}
		if _, err := d.ExecContext(ctx, d.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("insert users: %w", err)
		}
	}
	return nil
}

// waitSynced polls the app database until it holds want sync users, or ctx ends. The count
// reads every row, so it is taken less often as want grows (every 50 ms for 10,000 users,
// every 2 s for 1,000,000), to leave the database to the servers.
func waitSynced(ctx context.Context, app *db.DB, want int) (int, error) {
	every := min(max(50*time.Millisecond, time.Duration(want)*2*time.Microsecond), 2*time.Second)
	for {
		var n int
		err := app.GetContext(ctx, &n, `SELECT count(*) FROM app_users WHERE username LIKE 'sync%' AND deleted = 0`)
		if err == nil && n >= want {
			return n, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return n, err
		case <-time.After(every):
		}
	}
}

// quiesce ends whatever statements the stopped servers left running in the store's auth
// database (PostgreSQL keeps running a query whose client went away), so they do not slow
// the next rows.
func (h *harness) quiesce(st storeCfg) error {
	d, err := db.Open(h.ctx, st.AuthURL, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.EndOtherSessions(h.ctx); err != nil {
		return fmt.Errorf("end leftover queries: %w", err)
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
