package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

var (
	writeDoc  = flag.String("write-doc", "", "write the report to this markdown file (docs/performance.md)")
	binDir    = flag.String("bin", "", "folder holding auth-server and resource-server (`make build`); built into a temp folder when empty")
	runsFlag  = flag.Int("runs", 3, "runs per figure (the median is reported, with min and max)")
	durFlag   = flag.Duration("dur", 2*time.Second, "duration of one run")
	hashDur   = flag.Duration("hash-dur", 8*time.Second, "duration of one run of the rows bound by argon2id (login, signup, the code flow) and of their ceiling: long enough for the collector, checkpoints and autovacuum to show")
	microFile = flag.String("micro", "", "file holding the output of the micro-benchmarks, copied into the report")
	command   = flag.String("command", "make bench", "the command recorded in the report")
	storesArg = flag.String("stores", "sqlite,postgres", "stores to benchmark (postgres needs TEST_DATABASE_URL)")
	syncUsers = flag.Int("sync-users", 10000, "users of the sync phase's replay and its ceiling (the scale run: 1000000)")
	phasesArg = flag.String("phases", "pinned,hash,sync,revoke,oauth,mail,mfa,memory,pooler,admin,import", "phases to run: pinned (resource server, JWKS, refresh), hash (login, signup), sync (`auth-server sync replay` against its upsert ceiling), revoke (logout latency, deny-list cost), oauth (code flow, /authorize with a login cookie), mail (/password/forgot known vs unknown), mfa (the second login step), memory (auth server's resident memory after a login burst and during refreshes), pooler (refresh through pgbouncer, PostgreSQL only), admin (client credentials, admin search) and import (users import); not by default: scale (the same rows on a small and on a -scale-users database, and the session cleanup at scale)")
)

// TestMain runs a ceiling instead of the tests when the binary is re-executed as a child.
func TestMain(m *testing.M) {
	if mode := os.Getenv(ChildEnv); mode != "" {
		if err := RunChild(mode, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// defaultHeader starts docs/performance.md when it has no hand-written top yet.
const defaultHeader = "# Performance\n\nLoad benchmarks of the real binaries; see e2e/bench for the method.\n"

// BenchmarkSystem is the whole load benchmark: the ceilings, then every scenario on SQLite
// and (with TEST_DATABASE_URL) PostgreSQL, then the report. It ignores b.N: one call takes
// minutes and is run once whatever -benchtime says.
func BenchmarkSystem(b *testing.B) {
	h := newHarness(b)
	h.rep.Command = *command
	h.rep.Invoked = strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " ")
	for name := range strings.SplitSeq(*storesArg, ",") {
		st, ok := h.store(strings.TrimSpace(name))
		if !ok {
			continue
		}
		h.runStore(st)
	}
	h.rep.Took = time.Since(h.rep.Started)
	if *microFile != "" {
		if out, err := os.ReadFile(*microFile); err != nil {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("micro-benchmarks: %v", err))
		} else {
			h.rep.Micro = string(out)
		}
	}
	if *writeDoc != "" {
		if err := WriteDoc(*writeDoc, defaultHeader, h.rep); err != nil {
			b.Fatal(err)
		}
		b.Logf("report written to %s", *writeDoc)
	} else {
		b.Log("\n" + h.rep.Markdown())
	}
}

// store returns the databases of the store called name, or false (with a note) when it cannot
// run here.
func (h *harness) store(name string) (storeCfg, bool) {
	switch name {
	case "sqlite":
		dir := filepath.Join(h.dir, "sqlite")
		return storeCfg{Name: "SQLite", AuthURL: "sqlite:" + dir + "/auth.db", AppURL: "sqlite:" + dir + "/app.db"}, true
	case "postgres":
		if os.Getenv(testdb.EnvVar) == "" {
			h.rep.Notes = append(h.rep.Notes, "PostgreSQL rows skipped: "+testdb.EnvVar+" is not set (SQLite rows only).")
			return storeCfg{}, false
		}
		return storeCfg{Name: "PostgreSQL", AuthURL: testdb.PostgresURL(h.b), AppURL: testdb.PostgresURL(h.b)}, true
	}
	h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("unknown store %q skipped", name))
	return storeCfg{}, false
}

// binaries returns the folder holding both binaries, building them when -bin is not given.
func binaries(b testing.TB, ctx context.Context, tmp string) string {
	if *binDir != "" {
		for _, n := range []string{"auth-server", "resource-server"} {
			if _, err := os.Stat(filepath.Join(*binDir, n)); err != nil {
				b.Fatalf("-bin %s: %v (run make build)", *binDir, err)
			}
		}
		abs, err := filepath.Abs(*binDir)
		if err != nil {
			b.Fatal(err)
		}
		return abs
	}
	dir := filepath.Join(tmp, "bin")
	for _, n := range []string{"auth-server", "resource-server"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, n), "github.com/jwtauth/jwtauth/"+n)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", n, err, out)
		}
	}
	return dir
}
