package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/syncevent"
)

// syResend posts captured sync calls (the auth server's token and body) to the resource
// server again; each must be answered 200 with nothing applied.
func syResend(t *testing.T, c *Client, resURL string, calls []syCall) {
	t.Helper()
	for _, k := range calls {
		var got syResult
		c.Send(http.MethodPost, resURL+"/sync/users", bytes.NewReader(k.body),
			header("Authorization", k.auth), header("Content-Type", "application/json")).
			Want(t, http.StatusOK).JSON(t, &got)
		if got.Applied != 0 {
			t.Errorf("a repeated or older batch applied %d events, want 0: %s", got.Applied, k.body)
		}
	}
}

// syAppUser is a row of the resource server's app_users.
type syAppUser struct {
	ID        string `db:"id"`
	Username  string `db:"username"`
	Email     string `db:"email"`
	Version   int64  `db:"version"`
	Deleted   int64  `db:"deleted"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

// syOpen opens a database of the test by URL; it is closed when the test ends.
func syOpen(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(url), err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// syAppUsers reads every app_users row (tombstones included) by id.
func syAppUsers(t testing.TB, app *db.DB) map[string]syAppUser {
	t.Helper()
	var rows []syAppUser
	if err := app.Select(&rows, `SELECT id, username, email, version, deleted, created_at, updated_at FROM app_users`); err != nil {
		t.Fatalf("read app_users: %v", err)
	}
	out := make(map[string]syAppUser, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

// syWaitApp polls the app database until every user of want is there at exactly its
// version, not deleted, or deleted (a tombstone) when the version is negative (-2: deleted
// at version 2), and returns the rows.
func syWaitApp(t testing.TB, app *db.DB, want map[string]int64) map[string]syAppUser {
	t.Helper()
	var got map[string]syAppUser
	var missing []string
	ok := poll(syWait, func() bool {
		got, missing = syAppUsers(t, app), nil
		for id, v := range want {
			dead := int64(0)
			if v < 0 {
				v, dead = -v, 1
			}
			if g, ok := got[id]; !ok || g.Version != v || g.Deleted != dead {
				missing = append(missing, fmt.Sprintf("%s at v%d (have %+v)", id, v, g))
			}
		}
		return len(missing) == 0
	})
	if !ok {
		t.Fatalf("after %s, %d of %d users not at the app as expected:\n%s", syWait, len(missing), len(want), strings.Join(missing, "\n"))
	}
	return got
}

// syEqual reports whether two app_users snapshots are equal.
func syEqual(a, b map[string]syAppUser) bool { return maps.Equal(a, b) }

// syResult is the resource server's answer to a sync call.
type syResult struct {
	Applied int `json:"applied"`
	Ignored int `json:"ignored"`
}

// syCall is one call that reached a syTarget.
type syCall struct {
	auth      string // the Authorization header (the auth server's sync token)
	body      []byte
	status    int  // what the target answered
	swallowed bool // acknowledged without being forwarded
	result    syResult
}

// syOK selects the calls the resource server acknowledged.
func syOK(k syCall) bool { return k.status == http.StatusOK && !k.swallowed }

// syTarget is a sync target in the test process, in front of the resource server: it
// records every call, and answers 500 to the first ones, holds calls until released, or
// acknowledges without forwarding (a target that lost what it acknowledged) when told to.
type syTarget struct {
	srv     *httptest.Server
	arrived chan struct{}

	mu       sync.Mutex
	upstream string
	failN    int
	swallow  bool
	hold     chan struct{}
	log      []syCall
}

// newSyTarget starts a target; it answers 503 until setUpstream.
func newSyTarget(t testing.TB) *syTarget {
	p := &syTarget{arrived: make(chan struct{}, 1)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() { p.release(); p.srv.Close() })
	return p
}

// URL is the target's sync URL, for SYNC_URLS.
func (p *syTarget) URL() string { return p.srv.URL + "/sync/users" }

func (p *syTarget) setUpstream(u string) { p.mu.Lock(); p.upstream = u; p.mu.Unlock() }
func (p *syTarget) failFirst(n int)      { p.mu.Lock(); p.failN = n; p.mu.Unlock() }
func (p *syTarget) setSwallow(on bool)   { p.mu.Lock(); p.swallow = on; p.mu.Unlock() }
func (p *syTarget) holdCalls()           { p.mu.Lock(); p.hold = make(chan struct{}); p.mu.Unlock() }

// release lets held calls go on (to the resource server) and holds no more.
func (p *syTarget) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold != nil {
		close(p.hold)
		p.hold = nil
	}
}

// waitArrived waits until a call is being held.
func (p *syTarget) waitArrived(t testing.TB) {
	t.Helper()
	select {
	case <-p.arrived:
	case <-time.After(syWait):
		t.Fatalf("no sync call reached the target within %s", syWait)
	}
}

func (p *syTarget) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	i := len(p.log)
	p.log = append(p.log, syCall{auth: r.Header.Get("Authorization"), body: body})
	fail, swallow, hold, up := i < p.failN, p.swallow, p.hold, p.upstream
	p.mu.Unlock()
	if hold != nil {
		select {
		case p.arrived <- struct{}{}:
		default:
		}
		<-hold
	}
	k := syCall{status: http.StatusOK, swallowed: swallow && !fail}
	var out []byte
	switch {
	case fail:
		k.status, out = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	case swallow:
		out = []byte(`{"applied":0,"ignored":0}`)
	case up == "":
		k.status, out = http.StatusServiceUnavailable, []byte(`{"error":"unavailable"}`)
	default:
		k.status, out = p.forward(up, r.Header.Get("Authorization"), body)
		_ = json.Unmarshal(out, &k.result)
	}
	p.mu.Lock()
	p.log[i].status, p.log[i].swallowed, p.log[i].result = k.status, k.swallowed, k.result
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(k.status)
	_, _ = w.Write(out)
}

// forward sends the call to the resource server, whether or not its caller still waits.
func (p *syTarget) forward(up, auth string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, up, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, []byte(`{"error":"bad_gateway"}`)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return http.StatusBadGateway, []byte(`{"error":"bad_gateway"}`)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// calls returns the finished calls that match keep.
func (p *syTarget) calls(keep func(syCall) bool) []syCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []syCall
	for _, k := range p.log {
		if k.status != 0 && keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// countCalls is len(calls(keep)).
func (p *syTarget) countCalls(keep func(syCall) bool) int { return len(p.calls(keep)) }

// checkAckedOnce fails t if any event was acknowledged (answered 2xx) more than once.
func (p *syTarget) checkAckedOnce(t testing.TB) {
	t.Helper()
	for user, ids := range p.sentEvents(syOK) {
		seen := map[string]int{}
		for _, id := range ids {
			seen[id]++
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("user %s: event %s acknowledged %d times, want once", user, id, k)
			}
		}
	}
}

// sentEvents lists, per user id, the event ids of the calls that match keep, in call order.
func (p *syTarget) sentEvents(keep func(syCall) bool) map[string][]string {
	out := map[string][]string{}
	for _, k := range p.calls(keep) {
		var b syncevent.Batch
		if err := json.Unmarshal(k.body, &b); err != nil {
			continue
		}
		for _, e := range b.Events {
			out[e.User.ID] = append(out[e.User.ID], e.ID)
		}
	}
	return out
}

// upstreamTotals sums what the resource server answered to the forwarded calls.
func (p *syTarget) upstreamTotals() syResult {
	var tot syResult
	for _, k := range p.calls(syOK) {
		tot.Applied += k.result.Applied
		tot.Ignored += k.result.Ignored
	}
	return tot
}
