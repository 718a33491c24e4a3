package bench

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

var (
	scaleFlag  = flag.Bool("scale", false, "add the scale phase to -phases (make bench does with BENCH_SCALE=1)")
	scaleUsers = flag.Int("scale-users", 1_000_000, "users of the scale phase's large database (its small one has smallUsers)")
)

// smallUsers is the size of the scale phase's small database.
const smallUsers = 1000

// scaleMeTokens is how many tokens the /me rows send, round and round: two of each of
// smallUsers users (each its own token), on either database.
const scaleMeTokens = 2000

// The rows of a pair read the same number of distinct users on both databases (smallUsers,
// spread evenly over the large one), so the pair compares the cost of the data's size, not of
// a working set a thousand times larger: /me the users of scaleMeTokens, the admin search
// scalePrefixes prefixes of 10 users each.
const scalePrefixes = smallUsers / 10

// scaleDB is one database of the scale phase, generated, with its servers.
type scaleDB struct {
	users    int
	label    string // "1,000 users"
	st       storeCfg
	sync     string // the auth server's SYNC_URLS: nowhere (the phase measures each server alone)
	auth, rs *Proc
	admin    string   // an admin's access token (scope admin)
	logins   []string // generated users who log in
	chains   []string // refresh chains (refreshWorker)
	tokens   []string // access tokens of generated app users, for /me
}

// scalePhase measures login, signup, refresh, the admin search and the resource server's /me
// on a generated database of smallUsers users and on one of -scale-users users, every server
// pinned to the servers' CPU, the runs of each pair alternating (the small database's figure
// is the row's ceiling); then the session cleanup deleting as many ended sessions as there
// are users while refreshes run.
func (h *harness) scalePhase(st storeCfg) error {
	if *scaleUsers < smallUsers || *scaleUsers >= 10_000_000 { // GenUserName has 7 digits
		return fmt.Errorf("-scale-users %d: want %d to 9,999,999", *scaleUsers, smallUsers)
	}
	hash, err := GenPasswordHash(benchPassword, argon2Params)
	if err != nil {
		return err
	}
	small, err := h.scaleDB(st, "scale-small", smallUsers, hash)
	if err != nil {
		return err
	}
	big, err := h.scaleDB(st, "scale-big", *scaleUsers, hash)
	if err != nil {
		return err
	}
	row := func(name string, conc int, onRS bool, worker func(d *scaleDB) func(int) (Op, error)) Row {
		sc := func(d *scaleDB) scenario {
			p := d.auth
			if onRS {
				p = d.rs
			}
			return scenario{store: st.Name, name: fmt.Sprintf("scale: %s, %s", name, d.label), conc: conc, proc: p, pinned: true, worker: worker(d)}
		}
		base := sc(small)
		short, _, _ := strings.Cut(name, " (")
		ceil := &ceiling{name: base.name, short: "small-db " + short, where: cpuLabel(h.server), unit: "req/s", conc: conc, proc: base.proc,
			run: func(d time.Duration) (Result, error) { return h.runFor(base, d) }}
		return h.measure(sc(big), ceil, atLeast(0.9))
	}
	row("login (POST /login)", concHTTP, false, func(d *scaleDB) func(int) (Op, error) { return h.loginWorker(d.auth.Addr, d.logins) })
	row("signup (POST /signup)", concHTTP, false, func(d *scaleDB) func(int) (Op, error) { return h.signupWorker(d.auth.Addr, "scalesu") })
	refresh := row("refresh (POST /refresh, one session per worker)", concRefresh, false, func(d *scaleDB) func(int) (Op, error) {
		return h.refreshWorker(d.auth, d.chains)
	})
	row("GET /admin/users?q=prefix (10 users match)", concHTTP, false, func(d *scaleDB) func(int) (Op, error) {
		return h.searchWorker(d.auth.Addr, "/admin/users?q=", func(n uint64) string {
			return fmt.Sprintf("scale%06d", (n%scalePrefixes)*uint64(d.users/smallUsers))
		},
			"Authorization", "Bearer "+d.admin)
	})
	row("resource server GET /me (reads the app user)", concHTTP, true, func(d *scaleDB) func(int) (Op, error) {
		return bearerWorker(h, d.rs.Addr, "/me", d.tokens, new(counter))
	})
	small.auth.Stop()
	small.rs.Stop()
	return h.cleanupRow(big, refresh)
}

// scaleDB generates a database of users users (and as many app users) for the scale phase,
// starts its auth and resource servers, and prepares what the rows send.
func (h *harness) scaleDB(st storeCfg, name string, users int, hash string) (*scaleDB, error) {
	d := &scaleDB{users: users, label: num(float64(users), "") + " users", st: st}
	d.st.AuthURL, d.st.AppURL = "sqlite:"+filepath.Join(h.dir, name+"-auth.db"), "sqlite:"+filepath.Join(h.dir, name+"-app.db")
	if st.Name == "PostgreSQL" {
		d.st.AuthURL, d.st.AppURL = testdb.PostgresURL(h.b), testdb.PostgresURL(h.b)
	}
	if err := migrateFresh(h.ctx, d.st.AuthURL, db.AuthSchema); err != nil {
		return nil, err
	}
	if err := migrateFresh(h.ctx, d.st.AppURL, db.AppSchema); err != nil {
		return nil, err
	}
	start := time.Now()
	n, err := FillAuth(h.ctx, d.st.AuthURL, users, hash, start)
	if err != nil {
		return nil, err
	}
	authTook := time.Since(start)
	if err := FillApp(h.ctx, d.st.AppURL, users, start); err != nil {
		return nil, err
	}
	took := time.Since(start)
	h.logf("%s: generated %d users, %d sessions, %d refresh tokens in %s, and %d app users in %s", st.Name, n.Users, n.Sessions, n.Tokens,
		authTook.Round(time.Millisecond), users, (took - authTook).Round(time.Millisecond))
	if users != smallUsers {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("%s scale phase: the generator wrote %s users, %s sessions and %s refresh tokens in %s (COPY or multi-row INSERTs, indexes built after), and %s app users in %s.",
			st.Name, num(float64(n.Users), ""), num(float64(n.Sessions), ""), num(float64(n.Tokens), ""), authTook.Round(time.Second),
			num(float64(users), ""), (took-authTook).Round(time.Second)))
	}
	dead, err := FreePort()
	if err != nil {
		return nil, err
	}
	d.sync = "http://" + dead + "/sync/users"
	if d.auth, err = h.startAuth(d.st, h.server, d.sync); err != nil {
		return nil, err
	}
	rsAddr, err := FreePort()
	if err != nil {
		return nil, err
	}
	if d.rs, err = h.startRS(d.st, h.server, rsAddr, d.auth.Addr); err != nil {
		return nil, err
	}
	if _, err := h.cli(d.st, d.sync, "bench admin password\n", "users", "create", "benchadmin", "benchadmin@bench.example", "--role", "admin"); err != nil {
		return nil, err
	}
	c := NewConn(d.auth.Addr)
	t, err := call(c, d.auth.Addr, "/token", []byte(`{"grant_type":"password","username":"benchadmin","password":"bench admin password","scope":"admin"}`), 200)
	c.Close()
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	d.admin = t.AccessToken
	for k := range concHTTP { // spread over the database, none of them disabled (i%1000 == 999)
		d.logins = append(d.logins, GenUserName(k*(users/concHTTP)))
	}
	if d.chains, err = refreshChains(d.auth, "scalerefresher"); err != nil {
		return nil, err
	}
	kek, _ := hex.DecodeString(h.kek)
	m, err := NewMinter(h.ctx, d.st.AuthURL, kek, issuer, []string{audience})
	if err != nil {
		return nil, err
	}
	for k := range scaleMeTokens {
		i := (k % smallUsers * 7919) % smallUsers * (users / smallUsers) // a permutation of 1,000 users, spread
		tok, err := m.MintFor(GenUserID(i), GenUserName(i), tokenTTL)
		if err != nil {
			return nil, err
		}
		d.tokens = append(d.tokens, tok)
	}
	return d, nil
}

// cleanupRow adds as many ended sessions as d has users (each with its refresh token) to d's
// database, restarts its auth server, whose session cleanup starts with it, and measures
// refreshes while the cleanup runs, against the p99 of refresh, the row measured on the same
// database without cleanup. It notes how fast the cleanup deleted meanwhile, and does not
// wait for its end.
func (h *harness) cleanupRow(d *scaleDB, without Row) error {
	name := fmt.Sprintf("scale: refresh during the session cleanup of %s ended sessions (batches of 200, each followed by a rest as long as it took), %s", num(float64(d.users), ""), d.label)
	row := Row{Store: d.st.Name, Name: name, Conc: concRefresh, Unit: "req/s"}
	if without.Err != nil {
		row.Err = fmt.Errorf("no refresh figure without cleanup: %w", without.Err)
		h.add(row)
		return nil
	}
	d.auth.Stop()
	start := time.Now()
	if err := AddEndedSessions(h.ctx, d.st.AuthURL, d.users, d.users, start); err != nil {
		return err
	}
	h.logf("%s: added %d ended sessions in %s", d.st.Name, d.users, time.Since(start).Round(time.Millisecond))
	auth, err := h.startAuth(d.st, h.server, d.sync)
	if err != nil {
		return err
	}
	defer auth.Stop()
	cleanupStart := time.Now()
	sc := scenario{store: d.st.Name, name: name, conc: concRefresh, proc: auth, pinned: true, worker: h.refreshWorker(auth, d.chains)}
	w := h.cpuWatch(true, auth)
	for range h.runs {
		r, err := watched(w, func() (Result, error) { return h.once(sc) })
		if err != nil {
			row.Err = err
			break
		}
		row.Fig.Runs = append(row.Fig.Runs, r)
	}
	left, err := endedSessions(h.ctx, d.st.AuthURL)
	if err != nil {
		return err
	}
	took := time.Since(cleanupStart)
	if left == 0 {
		row.Notes = append(row.Notes, "the cleanup ended before the runs did: part of the runs had no cleanup to compete with")
	} else {
		// The bench does not wait for the rest: at this rate it would take minutes.
		rate := float64(d.users-left) / took.Seconds()
		row.Notes = append(row.Notes, fmt.Sprintf("under the refresh load the cleanup deleted %s ended sessions (with their refresh tokens) in its first %s: %s sessions/s, %s for all %s",
			num(float64(d.users-left), ""), took.Round(time.Second), num(rate, ""), (time.Duration(float64(d.users)/rate)*time.Second).Round(time.Second), num(float64(d.users), "")))
	}
	row.Notes = append(row.Notes, h.cpuNote(w)...)
	if row.Err == nil {
		got, want := float64(row.Fig.P99().Microseconds())/1000, 2*float64(without.Fig.P99().Microseconds())/1000
		row.Checks = append([]Check{{What: "p99", Target: fmt.Sprintf("p99 ≤ 2 × refresh p99 without cleanup, same database (%.1f ms)", want/2),
			Got: got, Want: want, AtMost: true, Unit: "ms"}}, failureCheck(&row)...)
	}
	if row.Err == nil && row.Missed() {
		h.logf("%s %s: target missed, profiling the server", row.Store, row.Name)
		if left, err := endedSessions(h.ctx, d.st.AuthURL); err == nil && left > 0 {
			row.Profile, _ = Profile(h.ctx, auth.Pid(), h.dur, h.dir, func() error { _, err := h.once(sc); return err })
		}
	}
	h.add(row)
	return nil
}

// endedSessions counts the sessions the cleanup deletes (its condition, at now).
func endedSessions(ctx context.Context, url string) (int, error) {
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	c := time.Now().Add(-time.Minute).UnixMilli()
	var n int
	err = d.GetContext(ctx, &n, d.Rebind(`SELECT count(*) FROM sessions WHERE expires_at < ? OR (idle_expires_at > 0 AND idle_expires_at < ?)`), c, c)
	return n, err
}

// migrateFresh applies schema's migrations to the empty database at url.
func migrateFresh(ctx context.Context, url string, schema db.Schema) error {
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		return err
	}
	defer d.Close()
	return db.Migrate(ctx, d, schema)
}
