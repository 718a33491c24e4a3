package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

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
