package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The configuration every run shares.
const (
	issuer   = "https://auth.bench.invalid"
	audience = "resource-server"
	// argon2Params is ARGON2_PARAMS' default, given explicitly so the hash ceiling uses the
	// very parameters the server hashes with.
	argon2Params  = "m=19456,t=2,p=1"
	authListening = "auth server listening"
	rsListening   = "resource server listening"
)

// storeCfg is one store's pair of databases.
type storeCfg struct {
	Name    string // "SQLite" or "PostgreSQL"
	AuthURL string
	AppURL  string
}

// harness holds what every scenario needs.
type harness struct {
	b      *testing.B
	ctx    context.Context
	self   string // this test binary, re-executed for the ceilings
	bin    string // folder of the binaries
	dir    string // logs and SQLite files
	kek    string // KEY_ENCRYPTION_KEY of every auth server, hex
	runs   int
	dur    time.Duration
	server string // CPU list of the servers and their ceilings ("" when not pinned)
	all    string // CPU list of every CPU
	rep    *Report
	mu     sync.Mutex
	conns  []*Conn // connections of the current run, closed after it
}

func newHarness(b *testing.B) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	h := &harness{b: b, ctx: ctx, self: self, dir: dir, kek: hex.EncodeToString(kek), runs: *runsFlag, dur: *durFlag,
		rep: &Report{Started: time.Now(), Runs: *runsFlag, RunDur: *durFlag}}
	h.bin = binaries(b, ctx, dir)
	n := machineCPUs()
	h.all = fmt.Sprintf("0-%d", n-1)
	if n >= 2 && HaveTaskset() {
		h.server = "0"
	} else {
		h.all = ""
		h.rep.Notes = append(h.rep.Notes, "no pinning: taskset missing or a single CPU; servers and load share the CPUs")
	}
	h.rep.Machine = describeMachine(ctx, n, h.server != "")
	return h
}

// logf reports progress on stderr as it happens (a benchmark's log is only shown at its end).
func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Since(h.rep.Started).Round(time.Second)}, args...)...)
}

// conn returns a connection to addr that is closed after the current run.
func (h *harness) conn(addr string) *Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := NewConn(addr)
	h.conns = append(h.conns, c)
	return c
}

func (h *harness) closeConns() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
}

// start starts a process and stops it when the benchmark ends (also on failure).
func (h *harness) start(spec Spec) (*Proc, error) {
	spec.Dir = h.dir
	p, err := Start(h.ctx, spec)
	if err != nil {
		return nil, err
	}
	h.b.Cleanup(p.Stop)
	return p, nil
}

// authEnv is the environment of an auth server (and its CLI) on st.
func (h *harness) authEnv(st storeCfg, syncURL string) []string {
	return []string{"AUTH_ADDR=127.0.0.1:0", "AUTH_DATABASE_URL=" + st.AuthURL, "AUTH_ISSUER=" + issuer,
		"AUTH_AUDIENCE=" + audience, "KEY_ENCRYPTION_KEY=" + h.kek, "SYNC_URLS=" + syncURL,
		"ARGON2_PARAMS=" + argon2Params, "LOG_LEVEL=info"}
}

func (h *harness) startAuth(st storeCfg, cpus, syncURL string) (*Proc, error) {
	return h.start(Spec{Name: "auth-server", Path: h.bin + "/auth-server", Env: h.authEnv(st, syncURL),
		CPUs: cpus, Listening: authListening})
}

// startRS starts a resource server on addr that takes its keys from the auth server at
// authAddr, and waits until it is ready (keys loaded).
func (h *harness) startRS(st storeCfg, cpus, addr, authAddr string) (*Proc, error) {
	p, err := h.start(Spec{Name: "resource-server", Path: h.bin + "/resource-server", CPUs: cpus, Listening: rsListening,
		Env: []string{"RESOURCE_ADDR=" + addr, "APP_DATABASE_URL=" + st.AppURL, "AUTH_ISSUER=" + issuer,
			"AUTH_AUDIENCE=" + audience, "JWKS_URL=http://" + authAddr + "/.well-known/jwks.json", "LOG_LEVEL=info"}})
	if err != nil {
		return nil, err
	}
	if err := WaitHTTP(h.ctx, p.Addr, "/readyz", 200, 30*time.Second); err != nil {
		return nil, fmt.Errorf("resource server not ready: %w: %s", err, p.Tail(1000))
	}
	return p, nil
}

// scenario is a load to measure against a server.
type scenario struct {
	store, name string
	conc        int
	proc        *Proc // the server, profiled when a target is missed
	pinned      bool  // proc runs on the servers' CPU: report other work on that CPU
	worker      func(i int) (Op, error)
	dur         time.Duration // of one run, and of its ceiling's; zero: the harness's (-dur)
}

// once runs sc once for its run duration.
func (h *harness) once(sc scenario) (Result, error) { return h.runFor(sc, h.runDur(sc)) }

// runDur is the duration of one run of sc.
func (h *harness) runDur(sc scenario) time.Duration {
	if sc.dur > 0 {
		return sc.dur
	}
	return h.dur
}

// runFor runs sc once for d.
func (h *harness) runFor(sc scenario, d time.Duration) (Result, error) {
	defer h.closeConns()
	return Run(h.ctx, Load{Concurrency: sc.conc, Duration: d, Worker: sc.worker})
}

// ceiling is a ceiling measured one run at a time, alternating with the runs of the row it
// bounds, so that both see the same machine (other work on a shared machine comes and goes).
type ceiling struct {
	name, short string // the short name is used in the targets
	where, unit string
	conc        int
	proc        *Proc // a ceiling server on the servers' CPU, or nil for a job
	run         func(d time.Duration) (Result, error)
}

// checkFunc judges a row's figure, given its ceiling's (a zero Row when it has none).
type checkFunc func(f Figure, ceil Row) ([]Check, error)

// measure runs sc h.runs times, each run after one of its ceiling c (if any), judges it with
// checks, profiles the server when a target is missed, and adds the row (and the ceiling) to
// the report.
func (h *harness) measure(sc scenario, c *ceiling, checks checkFunc) Row {
	row := Row{Store: sc.store, Name: sc.name, Conc: sc.conc, Unit: "req/s"}
	var ceil Row
	var cw *CPUWatch
	if c != nil {
		ceil = Row{Store: sc.store, Name: c.name, Short: c.short, Where: c.where, Unit: c.unit, Conc: c.conc, Paired: sc.name}
		if c.proc != nil {
			cw = h.cpuWatch(true, c.proc)
		}
	}
	w := h.cpuWatch(sc.pinned, sc.proc)
	for range h.runs {
		if c != nil && ceil.Err == nil {
			r, err := watched(cw, func() (Result, error) { return c.run(h.runDur(sc)) })
			ceil.Err = err
			ceil.Fig.Runs = append(ceil.Fig.Runs, r)
		}
		r, err := watched(w, func() (Result, error) { return h.once(sc) })
		if err != nil {
			row.Err = err
			break
		}
		row.Fig.Runs = append(row.Fig.Runs, r)
	}
	if c != nil {
		ceil.Notes = append(ceil.Notes, h.cpuNote(cw)...)
		failureCheck(&ceil)
		h.addCeiling(ceil)
		if row.Err == nil && ceil.Err != nil {
			row.Err = fmt.Errorf("its ceiling failed: %w", ceil.Err)
		}
	}
	notes := h.cpuNote(w)
	if sc.dur > 0 && sc.dur != h.dur {
		notes = append([]string{fmt.Sprintf("runs of %s", sc.dur)}, notes...)
	}
	if row.Err == nil && ceil.Err == nil && w != nil && cw != nil {
		notes = append(notes, efficiencyNote(row, ceil, w, cw)...)
	}
	if len(notes) > 0 {
		row.Notes = append(row.Notes, strings.Join(notes, "; "))
	}
	if row.Err == nil {
		row.Checks, row.Err = checks(row.Fig, ceil)
		row.Checks = append(row.Checks, failureCheck(&row)...)
	}
	if row.Err == nil && row.Missed() && sc.proc != nil {
		h.logf("%s %s: target missed, profiling the server", sc.store, sc.name)
		prof, err := Profile(h.ctx, sc.proc.Pid(), h.dur, h.dir, func() error {
			_, err := h.once(sc)
			return err
		})
		if err != nil {
			row.Notes = append(row.Notes, fmt.Sprintf("no profile: %v", err))
		}
		row.Profile = prof
	}
	h.add(row)
	return row
}

// cpuWatch watches the servers' CPU for p when p is pinned there, else returns nil.
func (h *harness) cpuWatch(pinned bool, p *Proc) *CPUWatch {
	if !pinned || h.server == "" || p == nil {
		return nil
	}
	cpu, _ := strconv.Atoi(h.server)
	return NewCPUWatch(cpu, p.Pid())
}

// watched runs fn inside a period of w (when w is not nil).
func watched(w *CPUWatch, fn func() (Result, error)) (Result, error) {
	if w == nil {
		return fn()
	}
	w.Begin()
	defer w.End()
	return fn()
}

// cpuNote says how busy the watched CPU was with other work, when that is notable.
func (h *harness) cpuNote(w *CPUWatch) []string {
	if w == nil {
		return nil
	}
	other, own, err := w.Share()
	switch {
	case err != nil:
		return []string{fmt.Sprintf("CPU %s use not measured: %v", h.server, err)}
	case other >= otherCPUNote:
		return []string{fmt.Sprintf("CPU %s during the runs: %.0f %% other work, %.0f %% the server", h.server, 100*other, 100*own)}
	}
	return nil
}

// efficiencyNote compares requests per CPU-second of the server and of its ceiling: a ratio
// that other work on a shared CPU cannot skew, unlike the ratio of rates.
func efficiencyNote(row, ceil Row, w, cw *CPUWatch) []string {
	ws, err1 := w.ProcSeconds()
	cs, err2 := cw.ProcSeconds()
	if err1 != nil || err2 != nil || ws == 0 || cs == 0 {
		return nil
	}
	ok := func(f Figure) float64 {
		n := 0
		for _, r := range f.Runs {
			n += r.OK
		}
		return float64(n)
	}
	re, ce := ok(row.Fig)/ws, ok(ceil.Fig)/cs
	return []string{fmt.Sprintf("per CPU-second of the process: %s requests vs %s for the %s, %.2f × (a ratio other work on the CPU cannot skew)",
		num(re, ""), num(ce, ""), cmp.Or(ceil.Short, ceil.Name), re/ce)}
}

// otherCPUNote is the share of the servers' CPU taken by other work above which a row says so.
const otherCPUNote = 0.05

// failureCheck notes failed requests and, above 1 %, adds a failing check.
func failureCheck(row *Row) []Check {
	n, first := row.Fig.Failures()
	if n == 0 {
		return nil
	}
	total := 0
	for _, r := range row.Fig.Runs {
		total += r.OK + r.Failed
	}
	row.Notes = append(row.Notes, fmt.Sprintf("%d of %d requests failed; first: %s", n, total, first))
	share := 100 * float64(n) / float64(total)
	if share <= 1 {
		return nil
	}
	return []Check{{What: "failed", Target: "failed requests ≤ 1 %", Got: share, Want: 1, AtMost: true, Unit: "%"}}
}

func (h *harness) add(row Row) {
	h.rep.Rows = append(h.rep.Rows, row)
	verdict := "ok"
	switch {
	case row.Err != nil:
		verdict = "NOT MEASURED: " + row.Err.Error()
	case row.Missed():
		verdict = "MISS"
	}
	h.logf("%-10s %-55s %10.1f %-8s p99 %-8s %s", row.Store, row.Name, row.Fig.Rate(), row.Unit, row.Fig.P99().Round(10*time.Microsecond), verdict)
}

// atLeast is the check "rate ≥ factor × the ceiling".
func atLeast(factor float64) checkFunc {
	return func(f Figure, ceil Row) ([]Check, error) {
		return []Check{rateCheck(f, factor, ceil)}, nil
	}
}

func rateCheck(f Figure, factor float64, ceil Row) Check {
	name := cmp.Or(ceil.Short, ceil.Name)
	return Check{What: "req/s", Target: fmt.Sprintf("≥ %g × %s (%s)", factor, name, num(ceil.Fig.Rate(), ceil.Unit)),
		Got: f.Rate(), Want: factor * ceil.Fig.Rate(), Unit: "req/s"}
}

// expect turns a response into an Op's error unless its status is want.
func expect(r Response, err error, want int) error {
	if err != nil {
		return err
	}
	if r.Status != want {
		body := string(r.Body)
		if len(body) > 200 {
			body = body[:200]
		}
		return fmt.Errorf("status %d, want %d: %s", r.Status, want, strings.TrimSpace(body))
	}
	return nil
}

var errNoToken = errors.New("no token in the response")
