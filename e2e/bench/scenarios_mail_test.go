package bench

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// mailPhase measures POST /password/forgot for a known and an unknown address in the same
// runs, interleaved request by request on the same connections (CONTRACT §11: "in the same
// time"): the known row's targets are the ratio of the two medians within 0.9–1.1 and their
// p99s within 20 % of each other. The auth server runs without SMTP_URL (mails are logged),
// pinned like the other API rows; the relay resolving the queued requests in the background
// shares its CPU equally with both kinds.
func (h *harness) mailPhase(st storeCfg) error {
	dead, err := FreePort()
	if err != nil {
		return err
	}
	auth, err := h.startAuth(st, h.server, "http://"+dead+"/sync/users")
	if err != nil {
		return err
	}
	defer auth.Stop()
	c := NewConn(auth.Addr)
	r, err := c.Do(Render(auth.Addr, "POST", "/signup", []byte(`{"username":"forgotbench","email":"forgotbench@bench.example","password":"bench forgot password"}`),
		"Content-Type", "application/json"))
	c.Close()
	if err := expect(r, err, 201); err != nil {
		return fmt.Errorf("signup: %w", err)
	}
	bodies := [2][]byte{[]byte(`{"email":"forgotbench@bench.example"}`), []byte(`{"email":"nobody@bench.example"}`)}
	var known, unknown Figure
	var pooled [2][]time.Duration // every run's latencies, per kind
	for range h.runs {
		k, u, lat, err := h.forgotRun(auth.Addr, bodies)
		if err != nil {
			return err
		}
		known.Runs, unknown.Runs = append(known.Runs, k), append(unknown.Runs, u)
		pooled[0], pooled[1] = append(pooled[0], lat[0]...), append(pooled[1], lat[1]...)
	}
	// The unknown address's figure is listed with the ceilings: the row it is paired with (its
	// requests interleaved with the known one's) is judged against it.
	kRow := Row{Store: st.Name, Name: "POST /password/forgot, known address", Conc: concHTTP, Unit: "req/s", Fig: known}
	uRow := Row{Store: st.Name, Name: "POST /password/forgot, unknown address (requests interleaved with the known one's)",
		Short: "unknown address", Where: cpuLabel(h.server), Conc: concHTTP, Unit: "req/s", Fig: unknown, Paired: kRow.Name}
	failureCheck(&uRow)
	h.addCeiling(uRow)
	kRow.Checks = sameTimeChecks(known, unknown, pooled)
	kRow.Checks = append(kRow.Checks, failureCheck(&kRow)...)
	h.add(kRow)
	return nil
}

// forgotRun is one run: each of concHTTP workers alternates the two bodies, so both kinds see
// the same moments of the machine; the latencies are tallied per kind.
func (h *harness) forgotRun(addr string, bodies [2][]byte) (known, unknown Result, lat [2][]time.Duration, err error) {
	var mu sync.Mutex
	failed, firstErr := [2]int{}, [2]string{}
	res, err := h.runFor(scenario{conc: concHTTP, worker: func(i int) (Op, error) {
		c := h.conn(addr)
		reqs := [2][]byte{
			Render(addr, "POST", "/password/forgot", bodies[0], "Content-Type", "application/json"),
			Render(addr, "POST", "/password/forgot", bodies[1], "Content-Type", "application/json"),
		}
		n := i % 2
		return func() error {
			kind := n
			n ^= 1
			s := time.Now()
			r, err := c.Do(reqs[kind])
			err = expect(r, err, 202)
			d := time.Since(s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[kind]++
				if firstErr[kind] == "" {
					firstErr[kind] = err.Error()
				}
				return err
			}
			lat[kind] = append(lat[kind], d)
			return nil
		}, nil
	}}, h.dur)
	if err != nil {
		return Result{}, Result{}, lat, err
	}
	out := [2]Result{}
	for k := range out {
		slices.Sort(lat[k])
		out[k] = Result{OK: len(lat[k]), Failed: failed[k], Elapsed: res.Elapsed, FirstErr: firstErr[k],
			P50: percentile(lat[k], 0.50), P99: percentile(lat[k], 0.99)}
	}
	return out[0], out[1], lat, nil
}

// sameTimeChecks are the targets of "the same time for a known and an unknown address": the
// ratio of the median latencies (each the median over the runs) within 0.9–1.1, and the p99s
// within 20 %, each the p99 of every run's requests of its kind (pooled: a run's p99 rests on
// its few slowest requests, which other work on the machine decides).
func sameTimeChecks(known, unknown Figure, pooled [2][]time.Duration) []Check {
	p50 := func(f Figure) float64 {
		ds := make([]time.Duration, len(f.Runs))
		for i, r := range f.Runs {
			ds[i] = r.P50
		}
		return float64(medianDur(ds))
	}
	ratio := 100 * p50(known) / max(p50(unknown), 1)
	for _, l := range pooled {
		slices.Sort(l)
	}
	p99 := float64(percentile(pooled[0], 0.99)) / max(float64(percentile(pooled[1], 0.99)), 1)
	return []Check{
		{What: "p50 ratio", Target: "median known ≥ 90 % of median unknown", Got: ratio, Want: 90, Unit: "%"},
		{What: "p50 ratio", Target: "median known ≤ 110 % of median unknown", Got: ratio, Want: 110, AtMost: true, Unit: "%"},
		{What: "p99 gap", Target: "p99 known within 20 % of p99 unknown (all runs' requests)", Got: 100 * abs(p99-1), Want: 20, AtMost: true, Unit: "%"},
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
