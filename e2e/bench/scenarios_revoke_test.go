package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Revocation (issue 14): how fast a logout reaches the resource server, and what a large
// deny-list costs a request and memory.

const (
	revokeLogouts = 200     // logouts timed
	denyEntries   = 100_000 // live deny-list entries of the loaded resource server
)

// revokePhase runs the revocation rows with both servers pinned to the servers' CPU.
func (h *harness) revokePhase(st storeCfg) error {
	rsAddr, err := FreePort()
	if err != nil {
		return err
	}
	auth, err := h.startAuth(st, h.server, "http://"+rsAddr+"/sync/users")
	if err != nil {
		return err
	}
	defer auth.Stop()
	rs, err := h.startRS(st, h.server, rsAddr, auth.Addr)
	if err != nil {
		return err
	}
	defer rs.Stop()
	h.logoutLatencyRow(st, auth, rs)
	return h.denyListRows(st, auth, rs)
}

// logoutLatencyRow logs one user in revokeLogouts times, then, one session at a time, logs
// out and polls /whoami with that session's access token until the resource server answers
// 401: the time from the auth server's 204 to that first 401.
func (h *harness) logoutLatencyRow(st storeCfg, auth, rs *Proc) {
	row := Row{Store: st.Name, Name: fmt.Sprintf("revocation: logout's 204 → the resource server's first 401 for the old token (%d logouts)", revokeLogouts),
		Conc: 1, Unit: "logouts/s"}
	sessions := make([]tokenResp, revokeLogouts)
	c := NewConn(auth.Addr)
	_, err := call(c, auth.Addr, "/signup", signupBody("revoker"), 201)
	c.Close()
	if err == nil {
		err = parallel(len(sessions), 4, func(i int) error {
			c := NewConn(auth.Addr)
			defer c.Close()
			t, err := call(c, auth.Addr, "/login", loginBody("revoker"), 200)
			sessions[i] = t
			return err
		})
	}
	if err != nil {
		row.Err = err
		h.add(row)
		return
	}
	ac, rc := NewConn(auth.Addr), NewConn(rs.Addr)
	defer ac.Close()
	defer rc.Close()
	lat := make([]time.Duration, 0, len(sessions))
	start := time.Now()
	for _, s := range sessions {
		whoami := Render(rs.Addr, "GET", "/whoami", nil, "Authorization", "Bearer "+s.AccessToken)
		if r, err := rc.Do(whoami); expect(r, err, 200) != nil {
			row.Err = fmt.Errorf("before the logout: %w", expect(r, err, 200))
			break
		}
		r, err := ac.Do(Render(auth.Addr, "POST", "/logout", fmt.Appendf(nil, `{"refresh_token":%q}`, s.RefreshToken)))
		if err := expect(r, err, 204); err != nil {
			row.Err = fmt.Errorf("logout: %w", err)
			break
		}
		t0 := time.Now()
		for {
			r, err := rc.Do(whoami)
			if err != nil {
				row.Err = err
				break
			}
			if r.Status == 401 {
				lat = append(lat, time.Since(t0))
				break
			}
			if time.Since(t0) > 10*time.Second {
				row.Err = fmt.Errorf("the old token still accepted 10 s after its logout")
				break
			}
		}
		if row.Err != nil {
			break
		}
	}
	if row.Err == nil {
		slices.Sort(lat)
		res := Result{OK: len(lat), Elapsed: time.Since(start), P50: lat[len(lat)/2], P99: lat[len(lat)*99/100]}
		row.Fig = Figure{Runs: []Result{res}}
		row.Checks = []Check{{What: "p99", Target: "p99 ≤ 1 s (both servers up)", Got: float64(res.P99) / float64(time.Millisecond), Want: 1000, AtMost: true, Unit: "ms"}}
		row.Notes = append(row.Notes, fmt.Sprintf("sequential: each logout, then /whoami polled back to back until its 401; max %s; both servers on %s",
			ms(lat[len(lat)-1]), cpuLabel(h.server)))
	}
	h.add(row)
}

// denyListRows measures /whoami on a resource server holding denyEntries live revocations
// against one holding none (the same binary and store kind, its runs alternating), and the
// resource memory the entries take.
func (h *harness) denyListRows(st storeCfg, auth, empty *Proc) error {
	url := "sqlite:" + filepath.Join(h.dir, "sqlite", "app-denylist.db")
	if st.Name == "PostgreSQL" {
		url = testdb.PostgresURL(h.b)
	}
	if err := fillDenyList(h.ctx, url, denyEntries); err != nil {
		return err
	}
	fullAddr, err := FreePort()
	if err != nil {
		return err
	}
	full, err := h.startRS(storeCfg{Name: st.Name, AuthURL: st.AuthURL, AppURL: url}, h.server, fullAddr, auth.Addr)
	if err != nil {
		return err
	}
	defer full.Stop()
	kek, err := hex.DecodeString(h.kek)
	if err != nil {
		return err
	}
	m, err := NewMinter(h.ctx, st.AuthURL, kek, issuer, []string{audience})
	if err != nil {
		return err
	}
	tokens, err := m.MintN(40000, tokenTTL)
	if err != nil {
		return err
	}
	var a, b counter
	ceil := &ceiling{name: "resource server /whoami, a new token each time, empty deny-list", short: "empty deny-list",
		where: cpuLabel(h.server), unit: "req/s", conc: concHTTP, proc: empty,
		run: func(d time.Duration) (Result, error) {
			return h.runFor(scenario{conc: concHTTP, worker: bearerWorker(h, empty.Addr, "/whoami", tokens, &a)}, d)
		}}
	h.measure(scenario{store: st.Name, name: fmt.Sprintf("resource server /whoami, a new token each time, %s live deny-list entries", num(denyEntries, "")),
		conc: concHTTP, proc: full, pinned: true, worker: bearerWorker(h, full.Addr, "/whoami", tokens, &b)}, ceil, atLeast(0.95))

	row := Row{Store: st.Name, Name: fmt.Sprintf("resource server resident memory with %s deny-list entries (VmRSS, after the /whoami runs)", num(denyEntries, "")), Unit: "MiB"}
	fullRSS, err1 := full.RSS()
	emptyRSS, err2 := empty.RSS()
	if row.Err = errors.Join(err1, err2); row.Err == nil {
		extra := float64(fullRSS-emptyRSS) / (1 << 20)
		row.Notes = []string{fmt.Sprintf("%.1f MiB with the entries, %.1f MiB without: %.0f bytes an entry",
			float64(fullRSS)/(1<<20), float64(emptyRSS)/(1<<20), float64(fullRSS-emptyRSS)/denyEntries)}
		row.Checks = []Check{{What: "extra RSS", Target: "≤ 64 MiB for 100,000 entries", Got: extra, Want: 64, AtMost: true, Unit: "MiB"}}
	}
	h.add(row)
	return nil
}

// fillDenyList migrates the app database at url and inserts n live revocations (nine of ten
// sessions, one of ten users), as a resource server that received them over the last minute
// would hold them (applied before the deny-list's look-back, so its polls do not read them
// again).
func fillDenyList(ctx context.Context, url string, n int) error {
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, db.AppSchema); err != nil {
		return err
	}
	const batch = 500
	now := time.Now()
	exp, applied := now.Add(tokenTTL).UnixMilli(), now.Add(-time.Minute).UnixMilli()
	for from := 0; from < n; from += batch {
		var q strings.Builder
		var args []any
		q.WriteString(`INSERT INTO revocations (kind, id, subject, not_before, expires_at, occurred_at, applied_at) VALUES `)
		for i := from; i < min(from+batch, n); i++ {
			if i > from {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			kind, nb := "session", int64(0)
			if i%10 == 0 {
				kind, nb = "user", now.UnixMilli()
			}
			args = append(args, kind, uuid.NewString(), uuid.NewString(), nb, exp, applied, applied)
		}
		if _, err := d.ExecContext(ctx, d.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("fill deny-list: %w", err)
		}
	}
	return d.Analyze(ctx)
}
