package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Concurrencies of the rows.
const (
	concHTTP    = 16  // the Python system's figure was at 16 connections
	concRefresh = 32  // the refresh target's concurrency
	concRSS     = 200 // the memory target's concurrent logins
	dbMaxConns  = 16  // DB_MAX_CONNS' default: the refresh ceiling's pool, like the server's
)

func cpuLabel(cpus string) string {
	if cpus == "" {
		return "unpinned"
	}
	return "CPU " + cpus
}

// serverCeiling starts this binary as the ceiling server mode on the servers' CPU; its runs
// use the same generator and concurrency as the rows it bounds. name is "long|short". The
// server is stopped when the benchmark ends, or earlier with c.proc.Stop.
func (h *harness) serverCeiling(mode, name string, env []string, worker func(addr string) func(int) (Op, error)) (*ceiling, error) {
	p, err := h.start(Spec{Name: "ceiling-" + mode, Path: h.self, Env: append([]string{ChildEnv + "=" + mode}, env...),
		CPUs: h.server, Listening: CeilingListening})
	if err != nil {
		return nil, err
	}
	long, short, _ := strings.Cut(name, "|")
	sc := scenario{conc: concHTTP, worker: worker(p.Addr)}
	return &ceiling{name: long, short: short, where: cpuLabel(h.server), unit: "req/s", conc: concHTTP, proc: p,
		run: func(d time.Duration) (Result, error) { return h.runFor(sc, d) }}, nil
}

// helloCeiling is the bare hello handler.
func (h *harness) helloCeiling() (*ceiling, error) {
	return h.serverCeiling(CeilingHello, "bare hello handler|bare hello", nil, func(addr string) func(int) (Op, error) {
		return func(int) (Op, error) {
			c, raw := h.conn(addr), Render(addr, "GET", "/", nil)
			return func() error {
				r, err := c.Do(raw)
				return expect(r, err, 200)
			}, nil
		}
	})
}

// verifyCeiling is the bare go-jose verify handler on the store's key, sent the tokens the
// resource server gets.
func (h *harness) verifyCeiling(m *Minter, tokens []string) (*ceiling, error) {
	env := []string{"BENCH_JWK=" + string(m.PublicJWK()), "BENCH_ISSUER=" + issuer, "BENCH_AUDIENCE=" + audience}
	return h.serverCeiling(CeilingVerify, "bare go-jose verify handler (ES256)|bare verify", env, func(addr string) func(int) (Op, error) {
		return bearerWorker(h, addr, "/whoami", tokens, new(counter))
	})
}

// jobCeiling runs this binary as the job ceiling mode on cpus, one run per call.
func (h *harness) jobCeiling(mode, cpus, name, unit string, conc int, env ...string) *ceiling {
	long, short, _ := strings.Cut(name, "|")
	return &ceiling{name: long, short: short, where: cpuLabel(cpus), unit: unit, conc: conc,
		run: func(d time.Duration) (Result, error) {
			f, err := RunCeilingJob(h.ctx, h.self, mode, cpus, append(env, "BENCH_DUR="+d.String(), "BENCH_RUNS=1"))
			if err != nil {
				return Result{}, err
			}
			return f.Runs[0], nil
		}}
}

// hashCeiling is argon2id hashes per second with the configured parameters on every CPU.
func (h *harness) hashCeiling() *ceiling {
	return h.jobCeiling(CeilingHash, h.all, "argon2id hashes ("+argon2Params+"), one per CPU|hash ceiling", "hashes/s",
		machineCPUs(), "BENCH_ARGON2="+argon2Params)
}

// refreshCeiling is the refresh-shaped transaction on a fresh database of the store.
func (h *harness) refreshCeiling(st storeCfg) *ceiling {
	url, driver := "sqlite:"+filepath.Join(h.dir, "refresh-ceiling.db"), "modernc sqlite"
	if st.Name == "PostgreSQL" {
		url, driver = testdb.PostgresURL(h.b), "lib/pq"
	}
	return h.jobCeiling(CeilingRefreshTx, h.server, "refresh-shaped transaction (sqlx, "+driver+")|refresh-tx ceiling", "tx/s",
		concRefresh, "BENCH_DB_URL="+url, "BENCH_CONC="+strconv.Itoa(concRefresh), "BENCH_POOL="+strconv.Itoa(dbMaxConns))
}

func (h *harness) addCeiling(row Row) {
	h.rep.Ceilings = append(h.rep.Ceilings, row)
	h.logf("ceiling %-10s %-50s %10.1f %-8s p99 %-8s err=%v", row.Store, row.Name, row.Fig.Rate(), row.Unit,
		row.Fig.P99().Round(10*time.Microsecond), row.Err)
}

// bearerWorker is a worker sending GET path with the next of tokens each time, round and
// round; next counts the tokens handed out.
func bearerWorker(h *harness, addr, path string, tokens []string, next *counter) func(int) (Op, error) {
	return func(int) (Op, error) {
		c := h.conn(addr)
		return func() error {
			tok := tokens[next.next()%uint64(len(tokens))]
			r, err := c.Do(Render(addr, "GET", path, nil, "Authorization", "Bearer "+tok))
			return expect(r, err, 200)
		}, nil
	}
}

// probe measures a ceiling once for a second, to size what a row will need.
func (h *harness) probe(c *ceiling) (float64, error) {
	r, err := c.run(time.Second)
	if err != nil {
		return 0, fmt.Errorf("probe %s: %w", c.name, err)
	}
	return r.Rate(), nil
}
