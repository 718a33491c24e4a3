// Package pgbouncertest starts a PgBouncer of a test's own in front of its PostgreSQL
// database, in transaction mode, so that tests can run the servers through a connection
// pooler as production deployments do (issue 19).
package pgbouncertest

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape the pooler; the zero value is transaction mode with a pool of 20 server
// connections.
type Options struct {
	// PoolMode is PgBouncer's pool_mode: "transaction" (the default), "session" or
	// "statement".
	PoolMode string
	// PoolSize is default_pool_size: the server connections per database and user (20 by
	// default).
	PoolSize int
}

// Binary returns the path of the pgbouncer program, or "" when it is not installed (on PATH
// or in /usr/sbin, where Debian's package puts it).
func Binary() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	return ""
}

// Start runs a pgbouncer on a free port of 127.0.0.1 in front of the database of target (a
// postgres:// URL with user and password, as testdb.PostgresURL returns) and returns the URL
// that reaches the same database through it. The pooler logs in to PostgreSQL with target's
// user and password and lets any client in (auth_type = any). It is stopped when the test
// ends; the test is skipped, with one line, when pgbouncer is not installed.
func Start(t testing.TB, target string, o Options) string {
	t.Helper()
	return StartMany(t, o, target)[0]
}

// StartMany is Start for several databases behind one pgbouncer (an auth and an app database,
// say): it returns their URLs through it, in the order of targets.
func StartMany(t testing.TB, o Options, targets ...string) []string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("pgbouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)")
	}
	if o.PoolMode == "" {
		o.PoolMode = "transaction"
	}
	if o.PoolSize == 0 {
		o.PoolSize = 20
	}
	var dbs strings.Builder
	us := make([]*url.URL, len(targets))
	for i, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("pgbouncer: parse target: %v", err)
		}
		dbname := strings.TrimPrefix(u.Path, "/")
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "5432"
		}
		pass, _ := u.User.Password()
		fmt.Fprintf(&dbs, "%s = host=%s port=%s dbname=%s user=%s", dbname, host, port, dbname, u.User.Username())
		if pass != "" {
			fmt.Fprintf(&dbs, " password=%s", pass)
		}
		dbs.WriteString("\n")
		us[i] = u
	}
	listen := freePort(t)
	dir := t.TempDir()
	ini := fmt.Sprintf(`[databases]
%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
server_check_delay = 0
log_connections = 0
log_disconnections = 0
`, dbs.String(), listen, o.PoolMode, o.PoolSize)
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; it drops to this user after reading its config.
		ini += "user = " + unprivileged(t) + "\n"
	}
	cfg := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(cfg, []byte(ini), 0o644); err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, cfg)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgbouncer: start: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT) // PgBouncer's immediate shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("pgbouncer output:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited at start:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer not listening on %s after 20s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	urls := make([]string, len(us))
	for i, u := range us {
		p := *u
		p.Host = addr
		urls[i] = p.String()
	}
	return urls
}

// unprivileged names the user a root test runs pgbouncer as: postgres when it exists, else
// nobody.
func unprivileged(t testing.TB) string {
	for _, name := range []string{"postgres", "nobody"} {
		if _, err := user.Lookup(name); err == nil {
			return name
		}
	}
	t.Skip("pgbouncer tests skipped: running as root with neither a postgres nor a nobody user to run pgbouncer as")
	return ""
}

// freePort asks the OS for a free TCP port of 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgbouncer: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
