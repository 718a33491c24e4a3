package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HavePerf reports whether perf(1) is on the PATH.
func HavePerf() bool {
	_, err := exec.LookPath("perf")
	return err == nil
}

// Profile samples the CPU of process pid with perf for dur while load runs, and returns the
// top entries of the flat profile (self time by binary and symbol), like `go tool pprof -top`.
// perf needs no hook in the server: Go binaries keep their symbol table.
func Profile(ctx context.Context, pid int, dur time.Duration, dir string, load func() error) (string, error) {
	if !HavePerf() {
		return "", fmt.Errorf("perf is not installed")
	}
	data := filepath.Join(dir, fmt.Sprintf("perf-%d-%d.data", pid, time.Now().UnixNano()))
	secs := strconv.FormatFloat(dur.Seconds(), 'f', 1, 64)
	rec := exec.CommandContext(ctx, "perf", "record", "-q", "-F", "999", "-p", strconv.Itoa(pid), "-o", data, "--", "sleep", secs)
	var recErr strings.Builder
	rec.Stderr = &recErr
	if err := rec.Start(); err != nil {
		return "", fmt.Errorf("perf record: %w", err)
	}
	loadErr := load()
	if err := rec.Wait(); err != nil {
		return "", fmt.Errorf("perf record: %w: %s", err, strings.TrimSpace(recErr.String()))
	}
	if loadErr != nil {
		return "", fmt.Errorf("load during profile: %w", loadErr)
	}
	rep := exec.CommandContext(ctx, "perf", "report", "-i", data, "--stdio", "--no-children",
		"--sort", "dso,sym")
	var repErr strings.Builder
	rep.Stderr = &repErr
	out, err := rep.Output()
	if err != nil {
		return "", fmt.Errorf("perf report: %w: %s", err, strings.TrimSpace(repErr.String()))
	}
	sum := Summarize(string(out), 12, 20)
	if sum == "" {
		return "", fmt.Errorf("perf recorded no samples (record: %s; report: %s)",
			strings.TrimSpace(recErr.String()), strings.TrimSpace(repErr.String()))
	}
	return samplesLine(string(out)) + sum, nil
}

// sample is one line of a perf report: a share of the samples, in a binary, in a symbol.
type sample struct {
	pct      float64
	dso, sym string
}

// Summarize turns a `perf report --stdio --sort dso,sym` into the self time by package (Go
// packages from the symbols' import paths; "kernel" for the kernel) and the top functions,
// like `go tool pprof -top`.
func Summarize(report string, packages, functions int) string {
	var samples []sample
	byPkg := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(report))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") || !strings.HasSuffix(f[0], "%") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		smp := sample{pct: pct, dso: f[1], sym: strings.Join(f[3:], " ")}
		samples = append(samples, smp)
		byPkg[packageOf(smp)] += pct
	}
	if len(samples) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("self time by package:\n")
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(x, y string) int { return cmp.Compare(byPkg[y], byPkg[x]) })
	for _, p := range pkgs[:min(packages, len(pkgs))] {
		fmt.Fprintf(&b, "  %6.2f%%  %s\n", byPkg[p], p)
	}
	b.WriteString("top functions (self):\n")
	for _, smp := range samples[:min(functions, len(samples))] {
		fmt.Fprintf(&b, "  %6.2f%%  %s\n", smp.pct, smp.sym)
	}
	return b.String()
}

// packageOf names the package of a sampled symbol: the import path of a Go symbol, "kernel",
// or the binary with "(no symbol package)" for assembly routines without one.
func packageOf(s sample) string {
	if strings.Contains(s.dso, "kernel") {
		return "kernel"
	}
	sym, _, _ := strings.Cut(s.sym, "[")
	dir, base := "", sym
	if i := strings.LastIndexByte(sym, '/'); i >= 0 {
		dir, base = sym[:i+1], sym[i+1:]
	}
	name, _, ok := strings.Cut(base, ".")
	if !ok || name == "" {
		return s.dso + " (assembly, no package)"
	}
	return dir + name
}

// samplesLine returns perf report's "# Samples: …" header as a first line, or "".
func samplesLine(report string) string {
	for line := range strings.SplitSeq(report, "\n") {
		if strings.HasPrefix(line, "# Samples:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "#")) + "\n"
		}
	}
	return ""
}
