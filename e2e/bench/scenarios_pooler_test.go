package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/internal/pgbouncertest"
)

// poolerPoolSize is the pgbouncer's default_pool_size in the pooler phase: half the auth
// server's DB_MAX_CONNS, so the pooler multiplexes (32 refreshing clients on 16 client
// connections on 8 server connections), as it does in front of several replicas.
const poolerPoolSize = dbMaxConns / 2

// poolerPhase measures, on PostgreSQL, POST /refresh through a transaction-mode pgbouncer
// (Debian's 1.18; DB_PREPARED_STATEMENTS=auto finds it and prepares on the client) against the
// same refreshes straight to PostgreSQL with named prepared statements, alternating run by
// run; and, to tell the pooler's hop from the mode's cost, straight to PostgreSQL with
// DB_PREPARED_STATEMENTS=off against the same. Three auth servers on one database, all pinned
// to the servers' CPU, one under load at a time. The pooler runs unpinned, on the load
// generator's CPUs, as PostgreSQL does. Nothing is measured on SQLite, nor without pgbouncer
// (a note says so).
func (h *harness) poolerPhase(st storeCfg) error {
	if !strings.HasPrefix(st.AuthURL, "postgres") {
		return nil
	}
	if pgbouncertest.Binary() == "" {
		h.rep.Notes = append(h.rep.Notes, "pgbouncer rows skipped: pgbouncer is not installed (apt-get install pgbouncer)")
		return nil
	}
	dead, err := FreePort() // no sync target: the phase measures the auth server alone
	if err != nil {
		return err
	}
	sync := "http://" + dead + "/sync/users"
	direct, err := h.startAuth(st, h.server, sync)
	if err != nil {
		return err
	}
	defer direct.Stop()
	off, err := h.start(Spec{Name: "auth-server", Path: h.bin + "/auth-server", CPUs: h.server, Listening: authListening,
		Env: append(h.authEnv(st, sync), "DB_PREPARED_STATEMENTS=off")})
	if err != nil {
		return err
	}
	defer off.Stop()
	pst := st
	pst.AuthURL = pgbouncertest.Start(h.b, st.AuthURL, pgbouncertest.Options{PoolSize: poolerPoolSize})
	pooled, err := h.startAuth(pst, h.server, sync)
	if err != nil {
		return err
	}
	defer pooled.Stop()
	chains := map[*Proc][]string{}
	for i, p := range []*Proc{direct, off, pooled} {
		if chains[p], err = refreshChains(p, fmt.Sprintf("pooler%d", i)); err != nil {
			return err
		}
	}
	base := scenario{store: st.Name, name: "refresh direct to PostgreSQL", conc: concRefresh, proc: direct, pinned: true,
		worker: h.refreshWorker(direct, chains[direct])}
	ceil := func() *ceiling {
		return &ceiling{name: "refresh straight to PostgreSQL, named prepared statements (same build, same database)", short: "direct refresh",
			where: cpuLabel(h.server), unit: "req/s", conc: concRefresh, proc: direct,
			run: func(d time.Duration) (Result, error) { return h.runFor(base, d) }}
	}
	// Held to the pooler's target: what the mode alone costs is part of the pooler's price.
	h.measure(scenario{store: st.Name, name: "refresh straight to PostgreSQL, DB_PREPARED_STATEMENTS=off (no pooler: the mode's share)",
		conc: concRefresh, proc: off, pinned: true, worker: h.refreshWorker(off, chains[off])}, ceil(), atLeast(0.8))
	h.measure(scenario{store: st.Name, name: fmt.Sprintf("refresh through pgbouncer 1.18, transaction mode, %d server connections", poolerPoolSize),
		conc: concRefresh, proc: pooled, pinned: true, worker: h.refreshWorker(pooled, chains[pooled])}, ceil(), atLeast(0.8))
	// Where the CPU goes: one more run of each, counting the CPU time of the auth server, of
	// every PostgreSQL process (other work on the cluster counts too) and of pgbouncer.
	var parts []string
	for _, c := range []struct {
		name string
		p    *Proc
	}{{"named statements", direct}, {"DB_PREPARED_STATEMENTS=off", off}, {"through pgbouncer", pooled}} {
		pg0, pb0, au0 := commTicks("postgres"), commTicks("pgbouncer"), procTicks(c.p)
		r, err := h.once(scenario{conc: concRefresh, worker: h.refreshWorker(c.p, chains[c.p])})
		if err != nil || r.OK == 0 {
			return fmt.Errorf("CPU accounting run: %v (%d refreshes)", err, r.OK)
		}
		per := func(ticks uint64) float64 { return 1000 * float64(ticks) / clockTicks / float64(r.OK) }
		parts = append(parts, fmt.Sprintf("%s: auth server %.2f ms, PostgreSQL %.2f ms, pgbouncer %.2f ms",
			c.name, per(procTicks(c.p)-au0), per(commTicks("postgres")-pg0), per(commTicks("pgbouncer")-pb0)))
	}
	h.rep.Notes = append(h.rep.Notes, "PostgreSQL refresh, CPU time per refresh (one more run of each): "+strings.Join(parts, "; ")+
		". Without named statements PostgreSQL parses and plans every statement.")
	return nil
}

func procTicks(p *Proc) uint64 {
	t, _ := ProcTicks(p.Pid())
	return t
}

// commTicks sums the CPU time (user + system) of every process whose command starts with
// prefix, in clock ticks.
func commTicks(prefix string) uint64 {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum uint64
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i || !strings.HasPrefix(s[i+1:j], prefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(s[:i]))
		if err != nil {
			continue
		}
		t, _ := ProcTicks(pid)
		sum += t
	}
	return sum
}

// refreshChains signs up a user named name on auth and logs in concRefresh times: the heads
// of the refresh chains of refreshWorker.
func refreshChains(auth *Proc, name string) ([]string, error) {
	chains := make([]string, concRefresh)
	c := NewConn(auth.Addr)
	_, err := call(c, auth.Addr, "/signup", signupBody(name), 201)
	c.Close()
	if err != nil {
		return nil, err
	}
	err = parallel(len(chains), 4, func(i int) error {
		c := NewConn(auth.Addr)
		defer c.Close()
		t, err := call(c, auth.Addr, "/login", loginBody(name), 200)
		chains[i] = t.RefreshToken
		return err
	})
	return chains, err
}

// refreshWorker is refreshRow's worker: worker i follows chains[i].
func (h *harness) refreshWorker(auth *Proc, chains []string) func(i int) (Op, error) {
	return func(i int) (Op, error) {
		c := h.conn(auth.Addr)
		return func() error {
			t, err := call(c, auth.Addr, "/refresh", fmt.Appendf(nil, `{"refresh_token":%q}`, chains[i]), 200)
			if err == nil {
				chains[i] = t.RefreshToken
			}
			return err
		}, nil
	}
}
