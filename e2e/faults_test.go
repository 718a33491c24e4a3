package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Deadlines of the fault tests: how long a server may take to notice an outage, and to
// answer 200 again once the fault is over.
const (
	ftOutageTimeout  = 15 * time.Second
	ftRecoverTimeout = 30 * time.Second
)

// ftProxiedDB returns the URL of a fresh PostgreSQL database reached through a TCP proxy
// the test controls (Down, Up), so PostgreSQL can go away without touching the shared server.
func ftProxiedDB(t *testing.T) (string, *testdb.Proxy) {
	t.Helper()
	u, err := url.Parse(testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testdb.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	return u.String(), proxy
}

// TestPostgresRestartUnderLoad checks CONTRACT §6 ("a client mistake never gets a 5xx"; the
// database away is a 503) and §1 (PostgreSQL is the production store): with both servers on
// PostgreSQL through proxies and a load of signups, logins, refreshes and notes running, each
// database goes away and comes back. Meanwhile every answer is the expected success or a 503
// (never another 5xx, never a 4xx), /readyz of that server is 503 and of the other 200; after
// it is back, both answer 200 again within seconds, without a restart, and every user and
// note that was acknowledged with 201 is still there.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	authDB, authProxy := ftProxiedDB(t)
	appDB, appProxy := ftProxiedDB(t)
	s := startStack(t, StackOptions{
		Auth:     map[string]string{"AUTH_DATABASE_URL": authDB},
		Resource: map[string]string{"APP_DATABASE_URL": appDB},
	})
	const workers = 3
	load := ftStartLoad(t, s, ftLoadOptions{workers: workers, unavailable: true})
	load.waitOK(t, 2*workers, "before the outages")
	outages := []struct {
		name        string
		proxy       *testdb.Proxy
		down, other *Proc
	}{
		{"auth database", authProxy, s.Auth, s.Resource},
		{"app database", appProxy, s.Resource, s.Auth},
	}
	for _, o := range outages {
		before := load.unavailable(o.down.Kind)
		o.proxy.Down()
		waitStatus(t, o.down.URL+"/readyz", http.StatusServiceUnavailable, ftOutageTimeout)
		load.waitUnavailable(t, o.down.Kind, before+2*workers) // every worker met the outage
		waitStatus(t, o.other.URL+"/readyz", http.StatusOK, ftOutageTimeout)
		o.proxy.Up()
		back := time.Now()
		waitStatus(t, o.down.URL+"/readyz", http.StatusOK, ftRecoverTimeout)
		load.waitOK(t, 2*workers, o.name+" back")
		t.Logf("%s: %d answers 503 during the outage; the load ran clean again %s after it came back",
			o.name, load.unavailable(o.down.Kind)-before, time.Since(back).Round(time.Millisecond))
	}
	load.verify(t)
}

// TestSIGKILLAndRestart checks that a crash loses nothing that was acknowledged (CONTRACT §4,
// §5, §6): each server is killed with SIGKILL in the middle of a load and started again. While
// the auth server is down, the resource server keeps verifying (§7). Afterwards every user
// that got 201 logs in, every note that got 201 is there, sessions issued before the crash
// still refresh, and the keys are unchanged (same kids, same states, the same kid signs). On
// the embedded SQLite default (its WAL must survive the kill) and on PostgreSQL.
func TestSIGKILLAndRestart(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var o StackOptions
			if backend == "postgres" {
				o.Auth, o.Resource = pgEnv(t)
			}
			s := startStack(t, o)
			c := newClient(t)
			early := c.signup(s.Auth.URL, "early")
			var note struct{ ID string }
			c.PostJSON(s.Resource.URL+"/notes", map[string]string{"title": "before the crash"}, bearer(early.Tokens.AccessToken)).
				Want(t, http.StatusCreated).JSON(t, &note)
			keys := listKeys(t, s.Auth)

			load := ftStartLoad(t, s, ftLoadOptions{workers: 2, crashes: true})
			load.waitOK(t, 4, "before the crashes")
			s.Auth.Kill()
			ftLogWAL(t, s.Auth)
			c.Get(s.Resource.URL+"/whoami", bearer(early.Tokens.AccessToken)).Want(t, http.StatusOK)
			s.Auth.Restart()
			load.waitOK(t, 4, "after the auth server's restart")
			s.Resource.Kill()
			s.Resource.Restart()
			waitStatus(t, s.Resource.URL+"/readyz", http.StatusOK, readyTimeout)
			load.waitOK(t, 4, "after the resource server's restart")
			load.verify(t)

			var tr tokenResponse
			c.PostJSON(s.Auth.URL+"/refresh", map[string]string{"refresh_token": early.Tokens.RefreshToken}).
				Want(t, http.StatusOK).JSON(t, &tr)
			c.Get(s.Resource.URL+"/notes/"+note.ID, bearer(tr.AccessToken)).Want(t, http.StatusOK)
			if after := listKeys(t, s.Auth); !slices.Equal(after, keys) {
				t.Errorf("the keys changed across the crashes:\nbefore %+v\nafter  %+v", keys, after)
			}
			if got, want := kidOf(t, tr.AccessToken), keyIn(t, keys, "current").KID; got != want {
				t.Errorf("after the restart the auth server signs with %s, want the same current key %s", got, want)
			}
		})
	}
}

// ftLogWAL logs the size of the auth server's SQLite write-ahead log after a kill, to show
// that the restart had to recover from it (nothing is logged on PostgreSQL).
func ftLogWAL(t *testing.T, p *Proc) {
	if fi, err := os.Stat(filepath.Join(p.Dir, "data", "auth.db-wal")); err == nil {
		t.Logf("%s killed with a %d-byte WAL", p.Name, fi.Size())
	}
}

// ftLoadOptions say what a load may meet besides success.
type ftLoadOptions struct {
	workers     int
	unavailable bool // a 503 is acceptable (a database is away)
	crashes     bool // a transport error is acceptable (a server is being killed)
}

// ftLoad is background traffic against a stack. Each worker has an account of its own and
// loops: sign up a new user, log in, refresh its session, add a note, list the notes, and
// /whoami. It records every user and note acknowledged with 201, so that verify can check
// that none was lost, and every answer other than the expected one or an acceptable failure.
type ftLoad struct {
	s    *Stack
	c    *Client
	opts ftLoadOptions
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mains []*ftMain // one per worker; read by verify after the workers ended

	mu        sync.Mutex
	users     []account      // signups answered 201
	clean     int            // iterations in which every request got its expected answer
	status503 map[string]int // by server kind
	transport int            // transport errors
	problems  []string
}

// ftMain is a worker's own account: its live refresh token and the notes it added.
type ftMain struct {
	acct    account
	refresh string
	access  string
	notes   []string
}

// ftStartLoad signs up one account per worker and starts the workers; they stop at verify
// or when the test ends.
func ftStartLoad(t *testing.T, s *Stack, opts ftLoadOptions) *ftLoad {
	t.Helper()
	l := &ftLoad{s: s, c: newClient(t), opts: opts, stop: make(chan struct{}), status503: map[string]int{}}
	for w := range opts.workers {
		a := l.c.signup(s.Auth.URL, fmt.Sprintf("worker%d", w))
		l.mains = append(l.mains, &ftMain{acct: a, refresh: a.Tokens.RefreshToken, access: a.Tokens.AccessToken})
	}
	for w, m := range l.mains {
		l.wg.Add(1)
		go l.work(w, m)
	}
	t.Cleanup(l.halt)
	return l
}

func (l *ftLoad) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *ftLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *ftLoad) work(w int, m *ftMain) {
	defer l.wg.Done()
	auth, res := l.s.Auth, l.s.Resource
	for i := 0; !l.stopped(); i++ {
		u := account{Username: fmt.Sprintf("load%d-%d", w, i)}
		u.Email, u.Password = u.Username+"@example.com", "password of "+u.Username
		body, ct := jsonBody(map[string]string{"username": u.Username, "email": u.Email, "password": u.Password})
		_, ok := l.do(auth, http.MethodPost, "/signup", http.StatusCreated, body, ct)
		if ok {
			l.mu.Lock()
			l.users = append(l.users, u)
			l.mu.Unlock()
		}
		clean := ok
		body, ct = formBody(url.Values{"username": {m.acct.Username}, "password": {m.acct.Password}})
		_, ok = l.do(auth, http.MethodPost, "/login", http.StatusOK, body, ct)
		clean = clean && ok
		clean = l.refresh(m) && clean
		body, ct = jsonBody(map[string]string{"title": fmt.Sprintf("note %d", i), "body": "written under load"})
		if r, ok := l.do(res, http.MethodPost, "/notes", http.StatusCreated, body, ct, bearer(m.access)); ok {
			var n struct{ ID string }
			if err := json.Unmarshal(r.Body, &n); err != nil || n.ID == "" {
				l.problem("POST /notes: 201 without an id: %s", r.Body)
			} else {
				m.notes = append(m.notes, n.ID)
			}
		} else {
			clean = false
		}
		_, ok = l.do(res, http.MethodGet, "/notes", http.StatusOK, nil, bearer(m.access))
		clean = clean && ok
		_, ok = l.do(res, http.MethodGet, "/whoami", http.StatusOK, nil, bearer(m.access))
		l.mu.Lock()
		if clean && ok {
			l.clean++
		}
		l.mu.Unlock()
	}
}

// refresh spends the worker's refresh token. When the answer is lost (503 or a crash) the
// worker keeps the old token: presenting it again must still work (CONTRACT §5: its child
// is unspent).
func (l *ftLoad) refresh(m *ftMain) bool {
	body, ct := jsonBody(map[string]string{"refresh_token": m.refresh})
	r, ok := l.do(l.s.Auth, http.MethodPost, "/refresh", http.StatusOK, body, ct)
	if !ok {
		return false
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil || tr.RefreshToken == "" {
		l.problem("POST /refresh: 200 without a token response: %s", r.Body)
		return false
	}
	m.refresh, m.access = tr.RefreshToken, tr.AccessToken
	return true
}

// do sends one request of the load and reports whether it got want; anything but want, an
// acceptable 503 or an acceptable transport error is recorded as a problem.
func (l *ftLoad) do(p *Proc, method, path string, want int, body io.Reader, opts ...Opt) (*Response, bool) {
	r, err := l.c.TrySend(method, p.URL+path, body, opts...)
	if err != nil {
		l.mu.Lock()
		l.transport++
		if !l.opts.crashes {
			l.problemLocked("%s %s %s: %v", p.Name, method, path, err)
		}
		l.mu.Unlock()
		select { // a killed server refuses at once: do not spin
		case <-l.stop:
		case <-time.After(pollEvery):
		}
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case r.StatusCode == want:
		return r, true
	case r.StatusCode == http.StatusServiceUnavailable && l.opts.unavailable:
		l.status503[p.Kind]++
		return r, false
	default:
		l.problemLocked("%s %s %s: %d, want %d: %s", p.Name, method, path, r.StatusCode, want, truncate(r.Body, 300))
		return r, false
	}
}

func (l *ftLoad) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problemLocked(format, args...)
}

func (l *ftLoad) problemLocked(format string, args ...any) {
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *ftLoad) counts() (clean int, problems []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.clean, slices.Clone(l.problems)
}

// unavailable is the number of 503s the load got from servers of kind.
func (l *ftLoad) unavailable(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status503[kind]
}

// waitOK waits until the load has run n more iterations in which every request got its
// expected answer.
func (l *ftLoad) waitOK(t *testing.T, n int, when string) {
	t.Helper()
	start, _ := l.counts()
	if !poll(ftRecoverTimeout, func() bool { c, _ := l.counts(); return c >= start+n }) {
		_, problems := l.counts()
		t.Fatalf("%s: fewer than %d clean load iterations within %s; problems so far: %q", when, n, ftRecoverTimeout, problems)
	}
}

// waitUnavailable waits until the load got more than n 503s in all from servers of kind.
func (l *ftLoad) waitUnavailable(t *testing.T, kind string, n int) {
	t.Helper()
	if !poll(ftOutageTimeout, func() bool { return l.unavailable(kind) > n }) {
		_, problems := l.counts()
		t.Fatalf("the load got no more than %d 503s from the %s within %s of its database going away; problems: %q", n, kind, ftOutageTimeout, problems)
	}
}

// verify stops the load, reports its problems, and checks that nothing acknowledged was lost:
// every user that got 201 logs in, every worker's session still refreshes, and its notes
// list holds every note that got 201. Each of these must succeed at once (no 503).
func (l *ftLoad) verify(t *testing.T) {
	t.Helper()
	l.halt()
	for _, p := range l.problems {
		t.Errorf("load: %s", p)
	}
	c, auth, res := l.c, l.s.Auth.URL, l.s.Resource.URL
	for _, u := range l.users {
		r := c.PostForm(auth+"/login", url.Values{"username": {u.Username}, "password": {u.Password}})
		if r.StatusCode != http.StatusOK {
			t.Errorf("user %s got 201 at signup but its login answers %d: %s", u.Username, r.StatusCode, r.Body)
		}
	}
	notes := 0
	for _, m := range l.mains {
		// The last refresh token the worker holds may be one whose answer was lost: it still
		// refreshes (its child is unspent).
		var tr tokenResponse
		c.PostJSON(auth+"/refresh", map[string]string{"refresh_token": m.refresh}).Want(t, http.StatusOK).JSON(t, &tr)
		var list struct{ Notes []struct{ ID string } }
		c.Get(res+"/notes", bearer(tr.AccessToken)).Want(t, http.StatusOK).JSON(t, &list)
		have := map[string]bool{}
		for _, n := range list.Notes {
			have[n.ID] = true
		}
		for _, id := range m.notes {
			if !have[id] {
				t.Errorf("note %s of %s got 201 but is gone", id, m.acct.Username)
			}
		}
		notes += len(m.notes)
	}
	t.Logf("load: %d users and %d notes acknowledged, %d clean iterations, 503s %v, %d transport errors",
		len(l.users), notes, l.clean, l.status503, l.transport)
}

// TestGracefulShutdown checks that SIGTERM drains (CONTRACT §1: the servers stop cleanly):
// requests the server has accepted and is still reading when the signal comes complete
// with their answer (no connection reset), new connections are refused, the process exits
// 0, and what those requests wrote is there after a restart. Each request announces its body
// with `Expect: 100-continue` and sends it only after the signal, so it is provably in
// flight: the server answers 100 only once its handler reads the body.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := startStack(t, StackOptions{})
	c := newClient(t)
	u := c.signup(s.Auth.URL, "graceful")
	// The resource server first: its requests need a token of the running auth server.
	ftDrain(t, s.Resource, "/notes", u.Tokens.AccessToken, func(i int) string {
		return fmt.Sprintf(`{"title":"in flight %d"}`, i)
	})
	ftDrain(t, s.Auth, "/signup", "", func(i int) string {
		return fmt.Sprintf(`{"username":"inflight%d","email":"inflight%d@example.com","password":"password %d"}`, i, i, i)
	})

	s.Auth.Start()
	s.Resource.Start()
	for i := range 3 {
		c.login(s.Auth.URL, account{Username: fmt.Sprintf("inflight%d", i), Password: fmt.Sprintf("password %d", i)})
	}
	var list struct{ Notes []struct{ Title string } }
	c.Get(s.Resource.URL+"/notes", bearer(c.login(s.Auth.URL, u).AccessToken)).Want(t, http.StatusOK).JSON(t, &list)
	if len(list.Notes) != 3 {
		t.Errorf("after the restart %s has %d notes, want the 3 written in flight: %+v", u.Username, len(list.Notes), list.Notes)
	}
}

// ftDrain holds three POSTs to p's path in flight, sends SIGTERM, waits until p refuses new
// connections, then sends the bodies: each must be answered 201, and p must exit 0.
func ftDrain(t *testing.T, p *Proc, path, token string, body func(i int) string) {
	t.Helper()
	held := make([]*ftHeld, 3)
	for i := range held {
		held[i] = ftHold(t, p.URL+path, token, body(i))
	}
	for _, h := range held {
		h.waitAccepted(t)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		p.Stop() // fails the test unless the exit is 0
	}()
	t.Cleanup(func() { <-stopped })
	if !poll(stopTimeout, func() bool { return !ftAccepting(p) }) {
		t.Fatalf("%s still accepts connections %s after SIGTERM", p.Name, stopTimeout)
	}
	for _, h := range held {
		h.release(t)
	}
	for _, h := range held {
		r := <-h.done
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("%s POST %s in flight at SIGTERM: %d %v %s, want 201", p.Name, path, r.status, r.err, r.body)
		}
	}
	<-stopped
}

// ftAccepting reports whether p's port accepts a TCP connection.
func ftAccepting(p *Proc) bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// ftHeld is a POST whose JSON body is sent only on release, each on a connection of its own.
type ftHeld struct {
	body     string
	pw       *io.PipeWriter
	accepted chan struct{} // closed when the server answered 100 Continue
	done     chan ftHeldResult
}

type ftHeldResult struct {
	status int
	body   []byte
	err    error
}

func ftHold(t *testing.T, url, token, body string) *ftHeld {
	t.Helper()
	pr, pw := io.Pipe()
	h := &ftHeld{body: body, pw: pw, accepted: make(chan struct{}), done: make(chan ftHeldResult, 1)}
	var once sync.Once
	trace := &httptrace.ClientTrace{Got100Continue: func() { once.Do(func() { close(h.accepted) }) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}}
	go func() {
		var r ftHeldResult
		resp, err := hc.Do(req)
		if r.err = err; err == nil {
			r.status = resp.StatusCode
			r.body, r.err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		h.done <- r
	}()
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	return h
}

// waitAccepted waits for the 100 Continue: the server's handler is reading the body.
func (h *ftHeld) waitAccepted(t *testing.T) {
	t.Helper()
	select {
	case <-h.accepted:
	case r := <-h.done:
		t.Fatalf("answered before the body was sent: %d %v %s", r.status, r.err, r.body)
	case <-time.After(readyTimeout):
		t.Fatalf("no 100 Continue within %s", readyTimeout)
	}
}

func (h *ftHeld) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.pw, h.body); err != nil {
		t.Errorf("sending a held body: %v", err)
	}
	h.pw.Close()
}

// TestJWKSUnreachable checks CONTRACT §7 ("an auth server that is down does not stop it from
// accepting tokens signed by keys it already has") for a JWKS that becomes unreachable while
// the auth server itself runs: the connection refused ("refused"), or accepted and never
// answered ("hanging"). Meanwhile the auth server rotates its key: the new key was published
// ahead (§4), so its tokens verify with no fetch. Known tokens keep verifying, also during a
// hanging fetch and after it failed; /readyz stays 200; a token with an unknown kid gets 401,
// never a 5xx.
func TestJWKSUnreachable(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			auth := startAuth(t, map[string]string{"JWKS_MAX_AGE": "1s", "KEY_PUBLISH_AHEAD": "1s"})
			jp := ftNewJWKSProxy(t, auth.URL)
			env := resourceEnvFor(auth)
			env["JWKS_URL"] = jp.srv.URL + "/.well-known/jwks.json"
			res := startResource(t, env)
			waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
			c := newClient(t)
			user := c.signup(auth.URL, "partitioned")
			known := user.Tokens.AccessToken
			c.Get(res.URL+"/whoami", bearer(known)).Want(t, http.StatusOK)

			jp.cut(mode == "hanging")
			next := keyIn(t, listKeys(t, auth), "next")
			waitPublishedFor(t, auth, next, time.Second)
			auth.MustCLI("keys", "rotate")
			waitSigningKID(t, c, user, next.KID, auth)
			rotated := c.login(auth.URL, user).AccessToken
			good := []string{known, rotated}
			ftWantVerified(t, c, res, good)

			// Unknown kids, until the resource server has tried (and failed) to refresh.
			forged := ftForge(t, known, "ft-unknown-kid")
			finish := ftPresent(t, c, res, forged)
			if mode == "hanging" {
				if !poll(time.Minute, func() bool { return jp.hanging.Load() > 0 }) {
					t.Fatal("the resource server never tried to fetch the JWKS")
				}
				ftWantVerified(t, c, res, good)
				if jp.hanging.Load() == 0 {
					t.Errorf("known tokens were answered only after the hanging JWKS fetch ended")
				}
			}
			if !poll(time.Minute, func() bool { return ftMetric(t, c, res, ftJWKSErrors) >= 1 }) {
				t.Fatalf("no failed JWKS refresh within a minute of cutting the JWKS off")
			}
			seen := finish()
			ftWantVerified(t, c, res, good)
			for code, n := range seen {
				if code != http.StatusUnauthorized {
					t.Errorf("a token with an unknown kid got %d (%d times), want 401", code, n)
				}
			}
			if len(seen) == 0 {
				t.Errorf("no token with an unknown kid was answered")
			}
		})
	}
}

// ftJWKSErrors is the resource server's count of failed JWKS fetches.
const ftJWKSErrors = `resource_jwks_refreshes_total{result="error"}`

// ftWantVerified checks that every token is accepted by /whoami and that /readyz is 200.
func ftWantVerified(t *testing.T, c *Client, res *Proc, tokens []string) {
	t.Helper()
	for _, tok := range tokens {
		c.Get(res.URL+"/whoami", bearer(tok)).Want(t, http.StatusOK)
	}
	c.Get(res.URL+"/readyz").Want(t, http.StatusOK)
}

// ftPresent sends tok to /whoami over and over (a transport error fails the test) until the
// returned function is called (or the test ends); that function returns the count of each
// status.
func ftPresent(t *testing.T, c *Client, res *Proc, tok string) func() map[int]int {
	stop, done := make(chan struct{}), make(chan map[int]int, 1)
	go func() {
		seen := map[int]int{}
		defer func() { done <- seen }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(pollEvery):
			}
			r, err := c.TrySend(http.MethodGet, res.URL+"/whoami", nil, bearer(tok))
			if err != nil {
				t.Errorf("GET /whoami with an unknown kid: %v", err)
				return
			}
			seen[r.StatusCode]++
		}
	}()
	var once sync.Once
	var seen map[int]int
	finish := func() map[int]int {
		once.Do(func() { close(stop); seen = <-done })
		return seen
	}
	t.Cleanup(func() { finish() })
	return finish
}

// ftMetric is the value of one sample of p's /metrics (0 when absent).
func ftMetric(t *testing.T, c *Client, p *Proc, sample string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(string(c.Get(p.URL+"/metrics").Want(t, http.StatusOK).Body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}

// ftForge returns a token with the claims of like (a fresh jti), signed with a key of the
// test's own under kid.
func ftForge(t *testing.T, like, kid string) string {
	t.Helper()
	claims := jwtClaims(t, like)
	claims["jti"] = uuid.NewString()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ftJWKSProxy stands between a resource server and the auth server's JWKS: it forwards until
// cut, then either refuses connections (closed) or accepts requests and never answers them.
type ftJWKSProxy struct {
	srv     *httptest.Server
	hang    atomic.Bool
	hanging atomic.Int32 // requests being held now
	release chan struct{}
}

func ftNewJWKSProxy(t *testing.T, authURL string) *ftJWKSProxy {
	t.Helper()
	target, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	jp := &ftJWKSProxy{release: make(chan struct{})}
	jp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !jp.hang.Load() {
			rp.ServeHTTP(w, r)
			return
		}
		jp.hanging.Add(1)
		defer jp.hanging.Add(-1)
		select {
		case <-r.Context().Done():
		case <-jp.release:
		}
	}))
	t.Cleanup(func() { close(jp.release); jp.srv.Close() })
	return jp
}

// cut makes the JWKS unreachable: held forever when hang, else refused.
func (jp *ftJWKSProxy) cut(hang bool) {
	if hang {
		jp.hang.Store(true)
		return
	}
	jp.srv.Close()
}

// ftMistake is one client mistake: a request and the 4xx it must get.
type ftMistake struct {
	name         string
	kind         string // the server: kindAuth or kindResource
	method, path string
	ctype, body  string // Content-Type ("" sends none) and body
	chunked      bool   // send the body without a Content-Length
	token        bool   // send a valid access token
	hdr          [2]string
	want         int
	docOK        bool // the request matches docs/openapi.yaml (only the server can tell the mistake)
}

// ftMistakes are the client mistakes of TestClientMistakesNever5xx.
func ftMistakes() []ftMistake {
	const js, form = "application/json", "application/x-www-form-urlencoded"
	big := `{"username":"` + strings.Repeat("a", 70<<10) + `"}`
	bigNote := `{"title":"` + strings.Repeat("a", 70<<10) + `"}`
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	a, r := kindAuth, kindResource
	return []ftMistake{
		{name: "signup text/plain", kind: a, method: "POST", path: "/signup", ctype: "text/plain", body: "hello", want: 415},
		{name: "signup over 64 KiB", kind: a, method: "POST", path: "/signup", ctype: js, body: big, want: 413},
		{name: "signup over 64 KiB chunked", kind: a, method: "POST", path: "/signup", ctype: js, body: big, chunked: true, want: 413},
		{name: "signup malformed JSON", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":`, want: 400},
		{name: "signup JSON array", kind: a, method: "POST", path: "/signup", ctype: js, body: `[]`, want: 400},
		{name: "signup nested 10000 deep", kind: a, method: "POST", path: "/signup", ctype: js, body: deep, want: 400},
		{name: "signup missing fields", kind: a, method: "POST", path: "/signup", ctype: js, body: `{}`, want: 400},
		{name: "signup wrong types", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":1,"email":true,"password":null}`, want: 400},
		{name: "signup invalid UTF-8", kind: a, method: "POST", path: "/signup", ctype: js, body: "{\"username\":\"ab\xffc\",\"email\":\"x@example.com\",\"password\":\"password1\"}", want: 400},
		{name: "signup NUL in username", kind: a, method: "POST", path: "/signup", ctype: js, body: `{"username":"a\u0000bc","email":"x@example.com","password":"password1"}`, want: 400},
		{name: "login malformed form", kind: a, method: "POST", path: "/login", ctype: form, body: "username=%zz&password=x", want: 400},
		{name: "login XML", kind: a, method: "POST", path: "/login", ctype: "application/xml", body: "<login/>", want: 415},
		{name: "login empty body", kind: a, method: "POST", path: "/login", ctype: form, want: 400},
		{name: "login NUL in username", kind: a, method: "POST", path: "/login", ctype: js, body: `{"username":"a\u0000b","password":"password1"}`, want: 401, docOK: true},
		{name: "login NUL in username form", kind: a, method: "POST", path: "/login", ctype: form, body: "username=a%00b&password=password1", want: 401, docOK: true},
		{name: "login invalid UTF-8 username", kind: a, method: "POST", path: "/login", ctype: form, body: "username=a%ff%feb&password=password1", want: 401, docOK: true},
		{name: "token unsupported grant", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=client_credentials", want: 400},
		{name: "token no grant type", kind: a, method: "POST", path: "/token", ctype: form, body: "username=a&password=b", want: 400},
		{name: "token refresh grant without token", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=refresh_token", want: 400, docOK: true},
		{name: "token password grant without password", kind: a, method: "POST", path: "/token", ctype: form, body: "grant_type=password&username=a", want: 400, docOK: true},
		{name: "token grant type not a string", kind: a, method: "POST", path: "/token", ctype: js, body: `{"grant_type":5}`, want: 400},
		{name: "refresh missing token", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{}`, want: 400},
		{name: "refresh token not a string", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{"refresh_token":42}`, want: 400},
		{name: "refresh NUL in token", kind: a, method: "POST", path: "/refresh", ctype: js, body: `{"refresh_token":"a\u0000b"}`, want: 400, docOK: true},
		{name: "logout missing token", kind: a, method: "POST", path: "/logout", ctype: js, body: `{}`, want: 400},
		{name: "logout all not a boolean", kind: a, method: "POST", path: "/logout", ctype: js, body: `{"refresh_token":"x","all":"maybe"}`, want: 400},
		{name: "revoke missing token", kind: a, method: "POST", path: "/revoke", ctype: form, body: "token_type_hint=refresh_token", want: 400},
		{name: "GET /signup", kind: a, method: "GET", path: "/signup", want: 405},
		{name: "DELETE jwks", kind: a, method: "DELETE", path: "/.well-known/jwks.json", want: 405},
		{name: "PUT /me", kind: a, method: "PUT", path: "/me", token: true, want: 405},
		{name: "unknown route", kind: a, method: "GET", path: "/nowhere", want: 404},
		{name: "me Basic credentials", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Basic YTpi"}, want: 401},
		{name: "me 40 KiB bearer", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Bearer " + strings.Repeat("a", 40<<10)}, want: 401, docOK: true},
		{name: "me invalid UTF-8 bearer", kind: a, method: "GET", path: "/me", hdr: [2]string{"Authorization", "Bearer \xff\xfe.\xfd"}, want: 401, docOK: true},
		{name: "me empty update", kind: a, method: "PATCH", path: "/me", token: true, ctype: js, body: `{}`, want: 400},
		{name: "me invalid email", kind: a, method: "PATCH", path: "/me", token: true, ctype: js, body: `{"email":"not an address"}`, want: 400},
		{name: "password wrong types", kind: a, method: "POST", path: "/password", token: true, ctype: js, body: `{"current_password":1,"new_password":[]}`, want: 400},
		{name: "session NUL id", kind: a, method: "DELETE", path: "/sessions/%00", token: true, want: 404, docOK: true},
		{name: "session invalid UTF-8 id", kind: a, method: "DELETE", path: "/sessions/%ff", token: true, want: 404, docOK: true},

		{name: "note text/plain", kind: r, method: "POST", path: "/notes", token: true, ctype: "text/plain", body: "hello", want: 415},
		{name: "note over 64 KiB", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: bigNote, want: 413},
		{name: "note over 64 KiB chunked", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: bigNote, chunked: true, want: 413},
		{name: "note malformed JSON", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{"title":`, want: 400},
		{name: "note missing title", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{}`, want: 400},
		{name: "note NUL in title", kind: r, method: "POST", path: "/notes", token: true, ctype: js, body: `{"title":"a\u0000b"}`, want: 400, docOK: true},
		{name: "PUT /notes", kind: r, method: "PUT", path: "/notes", token: true, want: 405},
		{name: "unknown route", kind: r, method: "GET", path: "/nowhere", want: 404},
		{name: "note NUL id", kind: r, method: "GET", path: "/notes/%00", token: true, want: 404, docOK: true},
		{name: "note invalid UTF-8 id", kind: r, method: "GET", path: "/notes/%ff", token: true, want: 404, docOK: true},
		{name: "note 4000-character id", kind: r, method: "DELETE", path: "/notes/" + strings.Repeat("a", 4000), token: true, want: 404, docOK: true},
		{name: "whoami no token", kind: r, method: "GET", path: "/whoami", want: 401},
		{name: "whoami Basic credentials", kind: r, method: "GET", path: "/whoami", hdr: [2]string{"Authorization", "Basic YTpi"}, want: 401},
		{name: "whoami garbage bearer", kind: r, method: "GET", path: "/whoami", hdr: [2]string{"Authorization", "Bearer \xff.\xfe.\xfd"}, want: 401, docOK: true},
		{name: "sync without token", kind: r, method: "POST", path: "/sync/users", ctype: js, body: `{"events":[]}`, want: 401},
		{name: "sync with an access token", kind: r, method: "POST", path: "/sync/users", token: true, ctype: js, body: `{"events":[]}`, want: 401, docOK: true},
		{name: "awesome_app malformed JSON", kind: r, method: "POST", path: "/awesome_app", ctype: js, body: `{"access_token":`, want: 400},
	}
}

// TestClientMistakesNever5xx checks CONTRACT §6 and §7 ("a client mistake never gets a 5xx";
// errors are JSON {error, error_description}; bodies over 64 KiB get 413): a table of client
// mistakes at both servers, each answered its 4xx with the error shape, on SQLite and on
// PostgreSQL; and headers over the servers' limit, answered 431.
func TestClientMistakesNever5xx(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var o StackOptions
			if backend == "postgres" {
				o.Auth, o.Resource = pgEnv(t)
			}
			s := startStack(t, o)
			c := newClient(t)
			token := c.signup(s.Auth.URL, "clumsy").Tokens.AccessToken
			for _, m := range ftMistakes() {
				p := s.Auth
				if m.kind == kindResource {
					p = s.Resource
				}
				t.Run(m.kind+" "+m.name, func(t *testing.T) { ftSendMistake(t, c, p, m, token) })
			}
			for _, p := range []*Proc{s.Auth, s.Resource} {
				t.Run(p.Kind+" header of 1 MiB", func(t *testing.T) { ftHugeHeader(t, p) })
			}
		})
	}
}

func ftSendMistake(t *testing.T, c *Client, p *Proc, m ftMistake, token string) {
	var body io.Reader
	if m.body != "" {
		body = strings.NewReader(m.body)
		if m.chunked {
			body = io.MultiReader(body) // no known length: sent chunked
		}
	}
	var opts []Opt
	if m.ctype != "" {
		opts = append(opts, header("Content-Type", m.ctype))
	}
	if m.token {
		opts = append(opts, bearer(token))
	}
	if m.hdr[0] != "" {
		opts = append(opts, header(m.hdr[0], m.hdr[1]))
	}
	if !m.docOK {
		opts = append(opts, invalid())
	}
	r := c.Send(m.method, p.URL+m.path, body, opts...)
	if r.StatusCode != m.want {
		t.Errorf("%s %s: %d, want %d: %s", m.method, m.path, r.StatusCode, m.want, truncate(r.Body, 300))
	}
	ftWantErrorShape(t, r.StatusCode, r.Header, r.Body)
}

// ftHugeHeader sends p a request with a 1 MiB header, far past the servers' 64 KiB limit, on
// a fresh connection and without the validating client: the answer must be 431. Go's
// net/http writes it before any handler runs, as text/plain, so its body is not held to the
// error shape.
func ftHugeHeader(t *testing.T, p *Proc) {
	req, err := http.NewRequest(http.MethodGet, p.URL+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 1<<20))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /healthz with a 1 MiB header: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET /healthz with a 1 MiB header: %d, want 431", resp.StatusCode)
	}
}

// ftWantErrorShape fails unless an error answer is JSON {"error", "error_description"}.
func ftWantErrorShape(t *testing.T, status int, h http.Header, body []byte) {
	t.Helper()
	var e struct {
		Error       *string `json:"error"`
		Description *string `json:"error_description"`
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%d answered with Content-Type %q, want application/json", status, ct)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Description == nil || *e.Error == "" {
		t.Errorf(`%d body is not {"error", "error_description"}: %s`, status, truncate(body, 300))
	}
}
