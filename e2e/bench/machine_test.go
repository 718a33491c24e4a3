package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// describeMachine fills the machine section from /proc and the databases.
func describeMachine(ctx context.Context, cpus int, pinned bool) Machine {
	m := Machine{Go: runtime.Version(), Postgres: "not used (" + testdb.EnvVar + " unset)"}
	m.CPU = fmt.Sprintf("%s, %d logical CPUs", procField("/proc/cpuinfo", "model name"), cpus)
	m.Memory = procField("/proc/meminfo", "MemTotal")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(m.Memory, " kB"), 64); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if u := os.Getenv(testdb.EnvVar); u != "" {
		m.Postgres = dbVersion(ctx, u, "SELECT version()")
	}
	m.SQLite = dbVersion(ctx, "sqlite::memory:", "SELECT 'SQLite ' || sqlite_version() || ' (modernc.org/sqlite, pure Go)'")
	m.Busy = machineBusy(ctx, cpus)
	self := procField("/proc/self/status", "Cpus_allowed_list")
	if pinned {
		m.Pinning = fmt.Sprintf("servers, the bare-handler ceilings and the refresh-transaction ceiling on CPU 0 (`taskset -c 0`); the load generator (this process) on CPUs %s; login, signup and the argon2id ceiling on every CPU; PostgreSQL unpinned", self)
	} else {
		m.Pinning = "none: servers and load share the CPUs"
	}
	return m
}

// machineBusy samples how busy each CPU is for 2 s before the run, and the load average.
func machineBusy(ctx context.Context, cpus int) string {
	type sample struct{ busy, total uint64 }
	take := func() []sample {
		out := make([]sample, cpus)
		for i := range out {
			out[i].busy, out[i].total, _ = CPUTicks(i)
		}
		return out
	}
	a := take()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	b := take()
	parts := make([]string, cpus)
	for i := range parts {
		pct := 0.0
		if dt := b[i].total - a[i].total; dt > 0 {
			pct = 100 * float64(b[i].busy-a[i].busy) / float64(dt)
		}
		parts[i] = fmt.Sprintf("CPU %d %.0f %%", i, pct)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	avg, _, _ := strings.Cut(string(load), " ")
	return fmt.Sprintf("%s busy over 2 s before the run; 1-minute load average %s", strings.Join(parts, ", "), avg)
}

func dbVersion(ctx context.Context, url, query string) string {
	d, err := db.Open(ctx, url, 1)
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer d.Close()
	var v string
	if err := d.GetContext(ctx, &v, query); err != nil {
		return "unknown: " + err.Error()
	}
	v, _, _ = strings.Cut(v, ", compiled")
	return v
}

func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// machineCPUs counts the machine's CPUs (not only those this process may use).
func machineCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return max(n, 1)
}
