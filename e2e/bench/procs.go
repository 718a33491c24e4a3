package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec describes a server process to start.
type Spec struct {
	Name string   // for messages and log file names
	Path string   // the executable
	Args []string // its arguments
	Env  []string // KEY=value; nothing else of the environment is passed but PATH and HOME
	// CPUs is a taskset CPU list ("0", "0,1"); empty runs the process unpinned (it still
	// inherits the affinity of this process).
	CPUs string
	// Listening is the msg of the JSON log line that carries the bound "addr".
	Listening string
	Dir       string // working directory (holds the log file); must exist
}

// Proc is a running server process.
type Proc struct {
	Name string
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// HaveTaskset reports whether taskset(1) is on the PATH.
func HaveTaskset() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}

// Command returns the command running path with args, under `taskset -c cpus` when cpus is
// set and taskset is available. The process gets SIGKILL if this one dies.
func Command(ctx context.Context, cpus, path string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if cpus != "" && HaveTaskset() {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", cpus, path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// BaseEnv is the environment every child gets besides its own variables.
func BaseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
}

// Start starts the process, its stderr and stdout going to a log file in spec.Dir, and waits
// up to 60 s for its listening line.
func Start(ctx context.Context, spec Spec) (*Proc, error) {
	logPath := filepath.Join(spec.Dir, fmt.Sprintf("%s-%d.log", spec.Name, time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", spec.Name, err)
	}
	cmd := Command(context.WithoutCancel(ctx), spec.CPUs, spec.Path, spec.Args...)
	cmd.Env = append(BaseEnv(), spec.Env...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = spec.Dir, f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: start: %w", spec.Name, err)
	}
	p := &Proc{Name: spec.Name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(logPath, spec.Listening); addr != "" {
			p.Addr = addr
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before listening (%v): %s", spec.Name, p.err, p.Tail(2000))
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.Stop()
	return nil, fmt.Errorf("%s did not log %q within 60 s: %s", spec.Name, spec.Listening, p.Tail(2000))
}

func listeningAddr(logPath, msg string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg && line.Addr != "" {
			return line.Addr
		}
	}
	return ""
}

// Pid is the process id (taskset execs the program, so it is the server's).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Tail returns up to the last n bytes of the process's log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// Stop sends SIGTERM, waits up to 10 s, then kills. It is safe to call more than once.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// PeakRSS returns the process's VmHWM (peak resident set) in bytes.
func (p *Proc) PeakRSS() (int64, error) { return p.status("VmHWM") }

// RSS returns the process's VmRSS (resident set now) in bytes.
func (p *Proc) RSS() (int64, error) { return p.status("VmRSS") }

// status reads the kB figure named field of the process's /proc status, in bytes.
func (p *Proc) status(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %q: %w", field, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// FreePort asks the OS for a free TCP port on 127.0.0.1 and returns "127.0.0.1:port". The port
// is released before returning, for a process that must be told its address in advance.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// WaitHTTP polls GET url on addr until it answers want or the deadline passes.
func WaitHTTP(ctx context.Context, addr, path string, want int, within time.Duration) error {
	c := NewConn(addr)
	defer c.Close()
	raw := Render(addr, "GET", path, nil)
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		r, err := c.Do(raw)
		switch {
		case err == nil && r.Status == want:
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("status %d: %s", r.Status, r.Body)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("GET %s%s: no %d within %s (last: %s)", addr, path, want, within, last)
}
