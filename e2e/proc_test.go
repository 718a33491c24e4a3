package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server kinds, also the OpenAPI tags of their operations.
const (
	kindAuth     = "auth-server"
	kindResource = "resource-server"
	// kindExample is examples/revocation-service, a third-party service built on the public
	// verifier package alone.
	kindExample = "revocation-service"
)

// Deadlines of the harness. Generous, because the suite runs race-built binaries on a busy
// 2-core machine; every wait polls and returns as soon as its condition holds.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
	cliTimeout   = 60 * time.Second
	pollEvery    = 50 * time.Millisecond
)

// Proc is one server process of a test: its binary, working directory, port and
// environment, and everything it wrote to stdout and stderr (shown when the test fails).
// It is stopped when the test ends.
type Proc struct {
	t    testing.TB
	Name string // kind, plus a suffix when a test runs several ("auth-server#2")
	Kind string // kindAuth or kindResource
	Dir  string // working directory: a fresh t.TempDir(), so no stray .env is read
	Port int
	URL  string // http://127.0.0.1:Port

	bin       string
	env       map[string]string
	readyPath string
	out       *syncBuffer

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the running process has exited
	waitErr error
}

// newProc prepares (does not start) a process of kind with env, on env's address variable
// when it names a port, else on a free one.
func newProc(t testing.TB, kind string, env map[string]string) *Proc {
	t.Helper()
	p := &Proc{t: t, Kind: kind, Name: kind, Dir: t.TempDir(), env: map[string]string{}, out: &syncBuffer{}}
	for k, v := range env {
		p.env[k] = v
	}
	addrVar := "AUTH_ADDR"
	p.bin, p.readyPath = suite.authBin, "/readyz"
	switch kind {
	case kindResource:
		addrVar = "RESOURCE_ADDR"
		p.bin, p.readyPath = suite.resourceBin, "/healthz"
	case kindExample:
		addrVar = "ADDR"
		p.bin, p.readyPath = suite.exampleBin, "/healthz"
	}
	if a := p.env[addrVar]; a != "" {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			p.Port, err = strconv.Atoi(port)
		}
		if err != nil {
			t.Fatalf("%s=%q: want host:port", addrVar, a)
		}
	} else {
		p.Port = freePort(t)
		p.env[addrVar] = "127.0.0.1:" + strconv.Itoa(p.Port)
	}
	p.URL = "http://127.0.0.1:" + strconv.Itoa(p.Port)
	t.Cleanup(p.cleanup)
	return p
}

// freePort asks the OS for a free loopback port (listen on :0, close).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Env returns a copy of the process's environment (as given plus defaults).
func (p *Proc) Env() map[string]string {
	out := make(map[string]string, len(p.env))
	for k, v := range p.env {
		out[k] = v
	}
	return out
}

// WriteFile writes name (relative to the working directory) before the process starts, e.g.
// a .env file.
func (p *Proc) WriteFile(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// Start runs the process and waits, polling, until its readiness endpoint answers 200 (the
// auth server's /readyz, the resource server's /healthz). It fails the test when the process
// exits first or is not ready in time.
func (p *Proc) Start() {
	p.t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: already running", p.Name)
	}
	cmd := exec.Command(p.bin)
	cmd.Dir, cmd.Env = p.Dir, childEnv(p.env)
	fmt.Fprintf(p.out, "=== start %s (port %d)\n", p.Name, p.Port)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: start: %v", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	suite.api.register(p.Port, p.Kind)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.waitReady(done)
}

func (p *Proc) waitReady(done chan struct{}) {
	p.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready (%v); its output:\n%s", p.Name, p.exitErr(), p.Output())
		default:
		}
		resp, err := hc.Get(p.URL + p.readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(pollEvery)
	}
	p.t.Fatalf("%s not ready after %s (last: %s); its output:\n%s", p.Name, readyTimeout, last, p.Output())
}

// Stop sends SIGTERM and waits for the exit; the process must exit 0 (a graceful shutdown).
// It does nothing when the process is not running.
func (p *Proc) Stop() {
	p.t.Helper()
	p.signalAndWait(syscall.SIGTERM, true)
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	p.t.Helper()
	p.signalAndWait(syscall.SIGKILL, false)
}

// Restart stops the process and starts it again on the same port, with the same
// environment and working directory.
func (p *Proc) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

// Running reports whether the process is running.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (p *Proc) signalAndWait(sig syscall.Signal, wantClean bool) {
	p.t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		p.t.Errorf("%s did not exit within %s of %s; killed", p.Name, stopTimeout, sig)
	}
	fmt.Fprintf(p.out, "=== %s exited after %s: %v\n", p.Name, sig, p.exitErr())
	if err := p.exitErr(); wantClean && err != nil {
		p.t.Errorf("%s: exit after %s: %v (want a clean exit 0); its output:\n%s", p.Name, sig, err, p.Output())
	}
	p.mu.Lock()
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
}

func (p *Proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Output is everything the process wrote so far, across restarts.
func (p *Proc) Output() string { return p.out.String() }

func (p *Proc) cleanup() {
	p.Stop()
	if p.t.Failed() {
		p.t.Logf("--- output of %s (%s):\n%s", p.Name, p.Dir, p.Output())
	}
}

// CLIResult is the outcome of one command run.
type CLIResult struct {
	Stdout, Stderr string
	Code           int // exit code; -1 when the command could not run
	Err            error
}

func (r CLIResult) String() string {
	return fmt.Sprintf("exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.Code, r.Err, r.Stdout, r.Stderr)
}

// CLI runs the process's binary with args (e.g. "keys", "rotate") in its working directory
// with its environment, and returns the result. It does not fail the test, so it may be
// called from several goroutines at once.
func (p *Proc) CLI(args ...string) CLIResult { return p.CLIInput("", args...) }

// CLIInput is CLI with stdin as the command's standard input.
func (p *Proc) CLIInput(stdin string, args ...string) CLIResult {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = p.Dir, childEnv(p.env), strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		res.Code = -1
	}
	fmt.Fprintf(p.out, "=== cli %s %s: exit %d\n%s%s", p.Name, strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
	return res
}

// MustCLI is CLI that fails the test unless the command exits 0.
func (p *Proc) MustCLI(args ...string) CLIResult {
	p.t.Helper()
	res := p.CLI(args...)
	if res.Code != 0 {
		p.t.Fatalf("%s %s: %s", p.Name, strings.Join(args, " "), res)
	}
	return res
}

// childEnv is env (empty values left out) over a minimal inherited base: no configuration
// variable of the test's own environment reaches a server.
func childEnv(env map[string]string) []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GORACE", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if env[k] != "" {
			out = append(out, k+"="+env[k])
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
