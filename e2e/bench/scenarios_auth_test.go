package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"sync"
)

// benchPassword is every bench user's password.
const benchPassword = "correct-horse-battery-staple"

// rssLimit is the memory target: peak RSS during 200 concurrent logins, in MiB.
const rssLimit = 256

// tokenResp is the part of a token response the bench uses.
type tokenResp struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// signupBody is the JSON of POST /signup for user.
func signupBody(user string) []byte {
	return fmt.Appendf(nil, `{"username":%q,"email":%q,"password":%q}`, user, user+"@bench.example", benchPassword)
}

func loginBody(user string) []byte {
	return fmt.Appendf(nil, `{"username":%q,"password":%q}`, user, benchPassword)
}

// call posts body to path and decodes a token response, expecting status want.
func call(c *Conn, addr, path string, body []byte, want int) (tokenResp, error) {
	r, err := c.Do(Render(addr, "POST", path, body))
	if err := expect(r, err, want); err != nil {
		return tokenResp{}, fmt.Errorf("POST %s: %w", path, err)
	}
	var t tokenResp
	if err := json.Unmarshal(r.Body, &t); err != nil {
		return t, fmt.Errorf("POST %s: %w", path, err)
	}
	if t.RefreshToken == "" {
		return t, fmt.Errorf("POST %s: %w", path, errNoToken)
	}
	return t, nil
}

// parallel runs fn(0..n-1) on conc goroutines and returns the first error.
func parallel(n, conc int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		next counter
		mu   sync.Mutex
		err0 error
	)
	for range conc {
		wg.Go(func() {
			for i := int(next.next()); i < n; i = int(next.next()) {
				if err := fn(i); err != nil {
					mu.Lock()
					err0 = cmp.Or(err0, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return err0
}

// hashPhase runs the rows bound by argon2id, whose servers (like the hash ceiling) use every
// CPU.
func (h *harness) hashPhase(st storeCfg) error {
	rsAddr, err := FreePort()
	if err != nil {
		return err
	}
	auth, err := h.startAuth(st, h.all, "http://"+rsAddr+"/sync/users")
	if err != nil {
		return err
	}
	defer auth.Stop()
	rs, err := h.startRS(st, h.all, rsAddr, auth.Addr)
	if err != nil {
		return err
	}
	defer rs.Stop()
	users := make([]string, concHTTP)
	err = parallel(len(users), 4, func(i int) error {
		c := NewConn(auth.Addr)
		defer c.Close()
		users[i] = fmt.Sprintf("login%d", i)
		_, err := call(c, auth.Addr, "/signup", signupBody(users[i]), 201)
		return err
	})
	if err != nil {
		return err
	}
	h.rssRow(st, auth, users)
	hash := h.hashCeiling()
	h.measure(scenario{store: st.Name, name: "login", conc: concHTTP, proc: auth, worker: h.loginWorker(auth.Addr, users), dur: *hashDur},
		hash, atLeast(0.92))
	h.signupRow(st, auth, hash, "signup", "su")
	auth.Stop()
	dead, err := FreePort() // nothing listens there
	if err != nil {
		return err
	}
	down, err := h.startAuth(st, h.all, "http://"+dead+"/sync/users")
	if err != nil {
		return err
	}
	defer down.Stop()
	h.signupRow(st, down, hash, "signup, sync target down", "sd")
	down.Stop()
	return h.quiesce(st)
}

func (h *harness) loginWorker(addr string, users []string) func(int) (Op, error) {
	return func(i int) (Op, error) {
		c, raw := h.conn(addr), Render(addr, "POST", "/login", loginBody(users[i%len(users)]))
		return func() error {
			r, err := c.Do(raw)
			return expect(r, err, 200)
		}, nil
	}
}

// rssRow runs 200 concurrent logins once and reads the auth server's peak RSS (VmHWM, the
// peak of its life so far, which began with this phase).
func (h *harness) rssRow(st storeCfg, auth *Proc, users []string) {
	row := Row{Store: st.Name, Name: "login, 200 concurrent: peak RSS (VmHWM)", Conc: concRSS, Unit: "req/s"}
	r, err := h.once(scenario{conc: concRSS, worker: h.loginWorker(auth.Addr, users)})
	row.Fig.Runs, row.Err = []Result{r}, err
	if row.Err == nil {
		var rss int64
		rss, row.Err = auth.PeakRSS()
		row.Checks = append([]Check{{What: "VmHWM", Target: "peak RSS ≤ 256 MiB", Got: float64(rss) / (1 << 20),
			Want: rssLimit, AtMost: true, Unit: "MiB"}}, failureCheck(&row)...)
	}
	h.add(row)
}

// signupRow measures signups of fresh users named tag<n>.
func (h *harness) signupRow(st storeCfg, auth *Proc, hash *ceiling, name, tag string) {
	h.measure(scenario{store: st.Name, name: name, conc: concHTTP, proc: auth, worker: h.signupWorker(auth.Addr, tag), dur: *hashDur}, hash, atLeast(0.85))
}

// signupWorker signs up fresh users named tag<n>, n counting up across its runs.
func (h *harness) signupWorker(addr, tag string) func(int) (Op, error) {
	var n counter
	return func(int) (Op, error) {
		c := h.conn(addr)
		return func() error {
			_, err := call(c, addr, "/signup", signupBody(fmt.Sprintf("%s%d", tag, n.next())), 201)
			return err
		}, nil
	}
}

// refreshRow measures POST /refresh: each of 32 workers follows its own session's chain.
func (h *harness) refreshRow(st storeCfg, auth *Proc, tx *ceiling) {
	chains := make([]string, concRefresh)
	c := NewConn(auth.Addr)
	_, err := call(c, auth.Addr, "/signup", signupBody("refresher"), 201)
	c.Close()
	if err == nil {
		err = parallel(len(chains), 4, func(i int) error {
			c := NewConn(auth.Addr)
			defer c.Close()
			t, err := call(c, auth.Addr, "/login", loginBody("refresher"), 200)
			chains[i] = t.RefreshToken
			return err
		})
	}
	if err != nil {
		h.add(Row{Store: st.Name, Name: "refresh", Conc: concRefresh, Err: err})
		return
	}
	h.measure(scenario{store: st.Name, name: "refresh (POST /refresh, one session per worker)", conc: concRefresh, proc: auth, pinned: true,
		worker: func(i int) (Op, error) {
			c := h.conn(auth.Addr)
			return func() error {
				t, err := call(c, auth.Addr, "/refresh", fmt.Appendf(nil, `{"refresh_token":%q}`, chains[i]), 200)
				if err == nil {
					chains[i] = t.RefreshToken
				}
				return err
			}, nil
		}}, tx, func(f Figure, ceil Row) ([]Check, error) {
		p99 := float64(f.P99().Microseconds()) / 1000
		return []Check{rateCheck(f, 0.6, ceil), {What: "p99", Target: "p99 ≤ 50 ms", Got: p99, Want: 50, AtMost: true, Unit: "ms"}}, nil
	})
}
