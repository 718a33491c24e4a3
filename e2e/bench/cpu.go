package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTicks returns the busy and total time of CPU n so far, in clock ticks, from /proc/stat.
// Busy counts user, nice, system, irq, softirq and steal (time the hypervisor gave to others).
func CPUTicks(n int) (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	prefix := "cpu" + strconv.Itoa(n) + " "
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 8 {
			return 0, 0, fmt.Errorf("/proc/stat: short line %q", line)
		}
		v := make([]uint64, 8)
		for i := range v {
			if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
				return 0, 0, fmt.Errorf("/proc/stat: %w", err)
			}
		}
		// user nice system idle iowait irq softirq steal
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		return busy, busy + v[3] + v[4], nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu%d", n)
}

// ProcTicks returns the CPU time (user + system) process pid has used so far, in clock ticks.
func ProcTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ppid pgrp session tty tpgid flags minflt cminflt majflt
	// cmajflt utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: short", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat of %d: bad times", pid)
	}
	return ut + st, nil
}

// CPUWatch measures, over the periods between Begin and End, how much of one CPU went to one
// process and how much to anything else (other processes, the kernel's work for them, steal).
type CPUWatch struct {
	cpu, pid             int
	busy, total, proc    uint64 // accumulated over the periods
	busy0, total0, proc0 uint64 // at the last Begin
	err                  error
}

// NewCPUWatch returns a watch of CPU cpu and process pid.
func NewCPUWatch(cpu, pid int) *CPUWatch { return &CPUWatch{cpu: cpu, pid: pid} }

// Begin starts a period.
func (w *CPUWatch) Begin() {
	if w.err != nil {
		return
	}
	w.busy0, w.total0, w.err = CPUTicks(w.cpu)
	if w.err == nil {
		w.proc0, w.err = ProcTicks(w.pid)
	}
}

// End ends the period begun last.
func (w *CPUWatch) End() {
	if w.err != nil {
		return
	}
	busy, total, err := CPUTicks(w.cpu)
	if err != nil {
		w.err = err
		return
	}
	proc, err := ProcTicks(w.pid)
	if err != nil {
		w.err = err
		return
	}
	w.busy += busy - w.busy0
	w.total += total - w.total0
	w.proc += proc - w.proc0
}

// Share returns the fractions of the CPU's time in the periods that went to other work and to
// the process.
func (w *CPUWatch) Share() (other, own float64, err error) {
	if w.err != nil {
		return 0, 0, w.err
	}
	if w.total == 0 {
		return 0, 0, fmt.Errorf("no time measured")
	}
	dt := float64(w.total)
	return max(0, float64(w.busy)-float64(w.proc)) / dt, float64(w.proc) / dt, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux we run on.
const clockTicks = 100

// ProcSeconds is the CPU time the process used in the periods.
func (w *CPUWatch) ProcSeconds() (float64, error) {
	if w.err != nil {
		return 0, w.err
	}
	return float64(w.proc) / clockTicks, nil
}
