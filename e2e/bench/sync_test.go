package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
)

// syncUsers is the size of the sync replay.
const syncUsers = 10000

// syncRow inserts 10,000 users into the auth database, runs `auth-server sync replay`, and
// measures until the resource server's database has them all.
func (h *harness) syncRow(st storeCfg, rs *Proc) {
	row := Row{Store: st.Name, Name: fmt.Sprintf("sync: replay of %s users", num(syncUsers, "")), Conc: 1, Unit: "events/s"}
	var delivered int
	delivered, row.Fig, row.Notes, row.Err = h.syncReplay(st, rs)
	if row.Err == nil {
		row.Checks = []Check{{What: "users", Target: "every replayed user delivered", Got: float64(delivered), Want: syncUsers, Unit: "users"}}
	}
	h.add(row)
}

func (h *harness) syncReplay(st storeCfg, rs *Proc) (int, Figure, []string, error) {
	ctx, cancel := context.WithTimeout(h.ctx, 4*time.Minute)
	defer cancel()
	ad, err := db.Open(ctx, st.AuthURL, 2)
	if err != nil {
		return 0, Figure{}, nil, err
	}
	defer ad.Close()
	if err := insertUsers(ctx, ad, "sync%05d", syncUsers); err != nil {
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
	wctx, wcancel := context.WithDeadline(ctx, start.Add(syncWait))
	defer wcancel()
	n, err := waitSynced(wctx, app, syncUsers)
	elapsed := time.Since(start)
	notes := []string{fmt.Sprintf("`auth-server sync replay` returned after %s; the last user arrived %s after it started (events/s counts from the start); both servers on %s",
		enqueued.Round(time.Millisecond), elapsed.Round(time.Millisecond), cpuLabel(h.all))}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		notes[0] = fmt.Sprintf("only %d of %d users had arrived %s after `auth-server sync replay` started (it returned after %s); the bench stops waiting there",
			n, syncUsers, syncWait, enqueued.Round(time.Millisecond))
		notes = append(notes, activeQueries(ctx, ad)...)
		err = nil
	}
	fig := Figure{Runs: []Result{{OK: n, Elapsed: elapsed}}}
	if err != nil {
		return n, fig, notes, fmt.Errorf("%d of %d users delivered: %w", n, syncUsers, err)
	}
	return n, fig, notes, nil
}

// syncWait bounds the sync row, so a slow relay cannot push `make bench` past its budget.
const syncWait = 60 * time.Second

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

// waitSynced polls the app database until it holds want sync users, or ctx ends.
func waitSynced(ctx context.Context, app *db.DB, want int) (int, error) {
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
		case <-time.After(50 * time.Millisecond):
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
