package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/internal/pgbouncertest"
)

// poolerPoolSize is the pgbouncer's default_pool_size in the pooler phase: half the auth
// server's DB_MAX_CONNS, so the pooler multiplexes (32 refreshing clients on 16 client
// connections on 8 server connections), as it does in front of several replicas.
const poolerPoolSize = dbMaxConns / 2

// poolerPhase measures, on PostgreSQL, POST /refresh through a transaction-mode pgbouncer
// (Debian's 1.18; DB_PREPARED_STATEMENTS=auto finds it) against the same refreshes straight
// to PostgreSQL, alternating run by run: two auth servers on the same database, both pinned
// to the servers' CPU, only one under load at a time. The pooler runs unpinned, on the load
// generator's CPUs, as PostgreSQL does. Skipped (with a note) on SQLite and without pgbouncer.
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
	pst := st
	pst.AuthURL = pgbouncertest.Start(h.b, st.AuthURL, pgbouncertest.Options{PoolSize: poolerPoolSize})
	pooled, err := h.startAuth(pst, h.server, sync)
	if err != nil {
		return err
	}
	defer pooled.Stop()
	directChains, err := refreshChains(direct, "pooldirect")
	if err != nil {
		return err
	}
	pooledChains, err := refreshChains(pooled, "poolpooled")
	if err != nil {
		return err
	}
	base := scenario{store: st.Name, name: "refresh direct to PostgreSQL", conc: concRefresh, proc: direct, pinned: true,
		worker: h.refreshWorker(direct, directChains)}
	ceil := &ceiling{name: "refresh straight to PostgreSQL (same build, same database)", short: "direct refresh",
		where: cpuLabel(h.server), unit: "req/s", conc: concRefresh, proc: direct,
		run: func(d time.Duration) (Result, error) { return h.runFor(base, d) }}
	h.measure(scenario{store: st.Name, name: fmt.Sprintf("refresh through pgbouncer 1.18, transaction mode, %d server connections", poolerPoolSize),
		conc: concRefresh, proc: pooled, pinned: true, worker: h.refreshWorker(pooled, pooledChains)}, ceil, atLeast(0.8))
	return nil
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
