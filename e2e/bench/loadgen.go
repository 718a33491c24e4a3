// Package bench is the load benchmark of the real binaries (`make bench`): a closed-loop
// HTTP/1.1 load generator, the ceilings every target is measured against (bare handlers,
// argon2id throughput, the refresh-shaped transaction), and the report written to
// docs/performance.md. The scenarios and the driver are in the package's tests.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection of a load worker. It writes requests rendered by
// [Render] and parses answers with net/http, without the client's transport machinery, so
// that the generator costs little next to the server it drives. Not safe for concurrent use.
type Conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

// NewConn returns a connection to addr (host:port); it dials on first use.
func NewConn(addr string) *Conn { return &Conn{addr: addr} }

// Response is an answer read by [Conn.Do].
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Close closes the connection; the next Do dials again.
func (c *Conn) Close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c, c.br = nil, nil
	}
}

// Do writes the rendered request raw and reads the answer. On any error the connection is
// closed (and redialled by the next call).
func (c *Conn) Do(raw []byte) (Response, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return Response{}, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		c.c, c.br = nc, bufio.NewReaderSize(nc, 16<<10)
	}
	if _, err := c.c.Write(raw); err != nil {
		c.Close()
		return Response{}, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.Close()
		return Response{}, fmt.Errorf("read response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		c.Close()
		return Response{}, fmt.Errorf("read body: %w", err)
	}
	if resp.Close {
		c.Close()
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Render renders an HTTP/1.1 request for host. header holds name, value pairs. A body gets a
// Content-Length (and, when no Content-Type is given, application/json).
func Render(host, method, path string, body []byte, header ...string) []byte {
	b := make([]byte, 0, 256+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: jwtauth-bench\r\n"...)
	hasCT := false
	for i := 0; i+1 < len(header); i += 2 {
		hasCT = hasCT || http.CanonicalHeaderKey(header[i]) == "Content-Type"
		b = append(b, header[i]...)
		b = append(b, ": "...)
		b = append(b, header[i+1]...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		if !hasCT {
			b = append(b, "Content-Type: application/json\r\n"...)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// Op is one request of a worker; an error counts the request as failed.
type Op func() error

// Load is a fixed-duration closed-loop load: Concurrency workers each send their next
// request as soon as the previous one is answered, until Duration has passed.
type Load struct {
	Concurrency int
	Duration    time.Duration
	// Worker returns worker i's operation. It is called for every worker before the clock
	// starts, so per-worker setup (a connection, a session) is not measured.
	Worker func(i int) (Op, error)
}

// Result is the outcome of one run.
type Result struct {
	OK       int           `json:"ok"`
	Failed   int           `json:"failed"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	FirstErr string        `json:"first_error,omitempty"`
}

// Rate is successful operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// FailRatio is the share of operations that failed.
func (r Result) FailRatio() float64 {
	if r.OK+r.Failed == 0 {
		return 1
	}
	return float64(r.Failed) / float64(r.OK+r.Failed)
}

// Run runs l and returns its result. Elapsed runs from the start until the last worker's last
// request is answered, so a slow tail counts against the rate.
func Run(ctx context.Context, l Load) (Result, error) {
	ops := make([]Op, l.Concurrency)
	for i := range ops {
		op, err := l.Worker(i)
		if err != nil {
			return Result{}, fmt.Errorf("worker %d setup: %w", i, err)
		}
		ops[i] = op
	}
	type tally struct {
		lat    []time.Duration
		failed int
		err    error
	}
	tallies := make([]tally, len(ops))
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(l.Duration)
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[i]
			t.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				s := time.Now()
				if !s.Before(deadline) {
					return
				}
				if err := op(); err != nil {
					t.failed++
					if t.err == nil {
						t.err = err
					}
					continue
				}
				t.lat = append(t.lat, time.Since(s))
			}
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		res.Failed += t.failed
		if t.err != nil && res.FirstErr == "" {
			res.FirstErr = t.err.Error()
		}
	}
	res.OK = len(all)
	slices.Sort(all)
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// Figure is the runs of one measurement.
type Figure struct {
	Runs []Result
}

// Measure runs fn n times and collects the results; it stops at the first error.
func Measure(n int, fn func() (Result, error)) (Figure, error) {
	var f Figure
	for range n {
		r, err := fn()
		if err != nil {
			return f, err
		}
		f.Runs = append(f.Runs, r)
	}
	if len(f.Runs) == 0 {
		return f, errors.New("no runs")
	}
	return f, nil
}

// Median is the run of median rate (the lower middle one for an even count).
func (f Figure) Median() Result {
	if len(f.Runs) == 0 {
		return Result{}
	}
	rs := slices.Clone(f.Runs)
	slices.SortFunc(rs, func(a, b Result) int {
		switch {
		case a.Rate() < b.Rate():
			return -1
		case a.Rate() > b.Rate():
			return 1
		}
		return 0
	})
	return rs[(len(rs)-1)/2]
}

// Rate is the median rate.
func (f Figure) Rate() float64 { return f.Median().Rate() }

// MinMax are the lowest and highest rates of the runs.
func (f Figure) MinMax() (lo, hi float64) {
	for i, r := range f.Runs {
		if i == 0 || r.Rate() < lo {
			lo = r.Rate()
		}
		if r.Rate() > hi {
			hi = r.Rate()
		}
	}
	return lo, hi
}

// P99 is the median of the runs' 99th percentiles.
func (f Figure) P99() time.Duration {
	ps := make([]time.Duration, len(f.Runs))
	for i, r := range f.Runs {
		ps[i] = r.P99
	}
	slices.Sort(ps)
	if len(ps) == 0 {
		return 0
	}
	return ps[(len(ps)-1)/2]
}

// Failures sums the failed operations of every run and returns the first error seen.
func (f Figure) Failures() (n int, first string) {
	for _, r := range f.Runs {
		n += r.Failed
		if first == "" {
			first = r.FirstErr
		}
	}
	return n, first
}
