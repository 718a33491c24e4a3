package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
)

// syWait bounds how long a test waits for the relay to deliver. The tests set
// SYNC_RETRY_MAX to 1s, so a target that comes back is served again within a second or two.
const syWait = 30 * time.Second

// syFast are the relay settings of the sync tests: retries every 100 ms to 1 s instead of
// up to 5 minutes, so a target that comes back is served at once.
func syFast(env map[string]string) map[string]string {
	out := map[string]string{"SYNC_RETRY_BASE": "100ms", "SYNC_RETRY_MAX": "1s"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// syStartPG starts a stack on two fresh PostgreSQL databases, the auth server with the
// fast relay settings and authExtra, and returns it with the app database opened.
func syStartPG(t *testing.T, authExtra map[string]string) (*Stack, *db.DB) {
	t.Helper()
	aenv, renv := pgEnv(t)
	for k, v := range authExtra {
		aenv[k] = v
	}
	s := startStack(t, StackOptions{Auth: syFast(aenv), Resource: renv})
	return s, syOpen(t, renv["APP_DATABASE_URL"])
}

// TestSyncTargetDownDuringSignups checks CONTRACT §8 ("a target that is down never slows
// down or fails a signup"; "no user is lost when a target is down"): with the resource server
// stopped, 20 signups each answer 201 while their events stay pending (the relay keeps
// failing meanwhile), then the resource server starts and all 20 users arrive.
func TestSyncTargetDownDuringSignups(t *testing.T) {
	t.Parallel()
	s, app := syStartPG(t, nil)
	s.Resource.Stop()
	c := newClient(t)
	users := make([]account, 20)
	for i := range users {
		users[i] = c.signup(s.Auth.URL, fmt.Sprintf("down%02d", i))
	}
	// Every signup has answered, none delivered: the relay was failing the whole time.
	if got := syPending(t, s.Auth); got != 20 {
		t.Fatalf("sync status: %d pending after 20 signups with the target down, want 20", got)
	}
	ok := poll(syWait, func() bool {
		row := syStatus(t, s.Auth)[0]
		return row.OldestAttempts >= 1 && row.OldestLastError != ""
	})
	if !ok {
		t.Fatalf("the relay never tried the stopped target: %+v", syStatus(t, s.Auth))
	}
	if n := len(syAppUsers(t, app)); n != 0 {
		t.Fatalf("%d app users while the target was down, want 0", n)
	}

	s.Resource.Start()
	want := map[string]int64{}
	for _, u := range users {
		want[u.ID] = 1
	}
	syWaitApp(t, app, want)
	for _, u := range users {
		var me struct{ Version int64 }
		c.Get(s.Resource.URL+"/me", bearer(u.Tokens.AccessToken)).Want(t, http.StatusOK).JSON(t, &me)
		if me.Version < 1 {
			t.Errorf("%s: version %d at the resource server, want >= 1", u.Username, me.Version)
		}
	}
	syWaitPending(t, s.Auth, 0)
}

// TestSyncSurvivesSIGKILL checks CONTRACT §8 ("delivered … until it is acknowledged, so no
// user is lost") across a crash of the auth server: killed after the signup's commit and
// before any delivery could succeed, and killed while a delivery is in flight.
func TestSyncSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	t.Run("before delivery", func(t *testing.T) {
		t.Parallel()
		s, app := syStartPG(t, map[string]string{"SYNC_LEASE": "1s"})
		s.Resource.Stop()
		c := newClient(t)
		u := c.signup(s.Auth.URL, "crashy")
		if got := syPending(t, s.Auth); got != 1 {
			t.Fatalf("sync status: %d pending, want 1", got)
		}
		s.Auth.Kill()
		s.Auth.Start()
		if got := syPending(t, s.Auth); got != 1 {
			t.Fatalf("sync status after SIGKILL and restart: %d pending, want 1", got)
		}
		// The resource server starts after the auth server, so it gets the JWKS at once.
		s.Resource.Start()
		syWaitApp(t, app, map[string]int64{u.ID: 1})
		syWaitPending(t, s.Auth, 0)
	})
	t.Run("in flight", func(t *testing.T) {
		t.Parallel()
		// The call is held by the target; the relay's request timeout is SYNC_LEASE/2.
		target := newSyTarget(t)
		s, app := syStartPG(t, map[string]string{"SYNC_LEASE": "3s", "SYNC_URLS": target.URL()})
		target.setUpstream(s.Resource.URL + "/sync/users")
		target.holdCalls()
		u := newClient(t).signup(s.Auth.URL, "inflight")
		target.waitArrived(t)
		s.Auth.Kill()
		// The target applies the held call, but its answer reaches no one: the restarted
		// server must send the event again once the lease expires, and the target ignore it.
		target.release()
		s.Auth.Start()
		syWaitPending(t, s.Auth, 0)
		syWaitApp(t, app, map[string]int64{u.ID: 1})
		sent := target.sentEvents(func(syCall) bool { return true })
		if n := len(sent[u.ID]); n < 2 {
			t.Errorf("the event was sent %d times, want at least 2 (once in flight, once after the lease)", n)
		}
		if a := target.upstreamTotals(); a.Applied != 1 {
			t.Errorf("the resource server applied %d events, want 1 (the resend ignored): %+v", a.Applied, a)
		}
	})
}

// TestSyncTwoReplicasShareTheOutbox checks CONTRACT §8 with two auth-server replicas on one
// PostgreSQL: signups and two updates per user spread over both replicas all reach the one
// resource server at the users' latest versions, each event exactly once (no crash, no
// timeout: docs/user-sync.md "in normal operation each event is sent once") and in version
// order per user (no event ignored as older).
func TestSyncTwoReplicasShareTheOutbox(t *testing.T) {
	t.Parallel()
	aenv, renv := pgEnv(t)
	target := newSyTarget(t)
	aenv["SYNC_URLS"] = target.URL()
	replicas := startReplicas(t, 2, syFast(aenv))
	env := resourceEnvFor(replicas[0])
	env["APP_DATABASE_URL"] = renv["APP_DATABASE_URL"]
	res := startResource(t, env)
	waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
	target.setUpstream(res.URL + "/sync/users")
	app := syOpen(t, renv["APP_DATABASE_URL"])

	const n = 30
	c := newClient(t)
	urls := []string{replicas[0].URL, replicas[1].URL}
	users := sySignups(t, c, urls, "rep", n)
	for round := 2; round <= 3; round++ {
		syParallel(t, n, func(i int) error {
			_, err := syPatch(c, urls[(i+round)%2], users[i], map[string]string{"email": fmt.Sprintf("v%d-%s", round, users[i].Email)})
			return err
		})
	}
	want := map[string]int64{}
	for _, u := range users {
		want[u.ID] = 3
	}
	got := syWaitApp(t, app, want)
	for _, u := range users {
		if g := got[u.ID]; g.Email != "v3-"+u.Email {
			t.Errorf("%s: email %q at the app, want %q", u.Username, g.Email, "v3-"+u.Email)
		}
	}
	syWaitPending(t, replicas[0], 0)
	target.checkAckedOnce(t)
	if tot := target.upstreamTotals(); tot.Applied != 3*n || tot.Ignored != 0 {
		t.Errorf("the resource server applied %d and ignored %d events, want %d and 0", tot.Applied, tot.Ignored, 3*n)
	}
}

// TestSyncReplay checks `auth-server sync replay` (CONTRACT §8, docs/user-sync.md): it
// re-sends every user; the users the target has stay exactly as they were (idempotent), a
// user removed from the app database by hand comes back, and a deleted account is not
// replayed.
func TestSyncReplay(t *testing.T) {
	t.Parallel()
	s, app := syStartPG(t, nil)
	c := newClient(t)
	users := make([]account, 5)
	want := map[string]int64{}
	for i := range users {
		users[i] = c.signup(s.Auth.URL, fmt.Sprintf("replay%d", i))
		want[users[i].ID] = 1
	}
	if _, err := syPatch(c, s.Auth.URL, users[0], map[string]string{"username": "replay0b"}); err != nil {
		t.Fatal(err)
	}
	want[users[0].ID] = 2
	gone := users[4]
	body, ct := jsonBody(map[string]string{"password": gone.Password})
	c.Send(http.MethodDelete, s.Auth.URL+"/me", body, ct, bearer(gone.Tokens.AccessToken)).Want(t, http.StatusNoContent)
	want[gone.ID] = -2
	syWaitApp(t, app, want)
	syWaitPending(t, s.Auth, 0)
	before := syAppUsers(t, app)

	lost := users[1]
	if _, err := app.Exec(app.Rebind(`DELETE FROM app_users WHERE id = ?`), lost.ID); err != nil {
		t.Fatal(err)
	}
	out := s.Auth.MustCLI("sync", "replay")
	if !strings.Contains(out.Stdout, "replaying 4 users") {
		t.Errorf("sync replay printed %q, want it to replay the 4 existing users", out.Stdout)
	}
	syWaitApp(t, app, want)
	syWaitPending(t, s.Auth, 0)
	after := syAppUsers(t, app)
	for id, b := range before {
		a := after[id]
		if id == lost.ID { // re-created: same data, new row times
			a.CreatedAt, a.UpdatedAt = b.CreatedAt, b.UpdatedAt
		}
		if a != b {
			t.Errorf("app user %s changed by replay:\n got %+v\nwant %+v", id, a, b)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d app users after replay, want %d", len(after), len(before))
	}
}

// syStatusRow is one target of `sync status --json`.
type syStatusRow struct {
	Target          string `json:"target"`
	Pending         int    `json:"pending"`
	OldestAttempts  int    `json:"oldest_attempts"`
	OldestLastError string `json:"oldest_last_error"`
}

// syStatus runs `auth-server sync status --json` with p's environment.
func syStatus(t testing.TB, p *Proc) []syStatusRow {
	t.Helper()
	out := p.MustCLI("sync", "status", "--json")
	var rows []syStatusRow
	if err := json.Unmarshal([]byte(out.Stdout), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("sync status --json: %v (%d rows)\n%s", err, len(rows), out.Stdout)
	}
	return rows
}

// syPending is the number of pending deliveries over every target of `sync status`.
func syPending(t testing.TB, p *Proc) int {
	t.Helper()
	n := 0
	for _, r := range syStatus(t, p) {
		n += r.Pending
	}
	return n
}

// syWaitPending polls `sync status` until want deliveries are pending.
func syWaitPending(t testing.TB, p *Proc, want int) {
	t.Helper()
	got := -1
	if !poll(syWait, func() bool { got = syPending(t, p); return got == want }) {
		t.Fatalf("sync status: %d pending after %s, want %d: %+v", got, syWait, want, syStatus(t, p))
	}
}

// sySignups signs up n users concurrently (usernames prefix000…), round robin over urls.
func sySignups(t *testing.T, c *Client, urls []string, prefix string, n int) []account {
	t.Helper()
	users := make([]account, n)
	syParallel(t, n, func(i int) error {
		a := account{Username: fmt.Sprintf("%s%03d", prefix, i)}
		a.Email, a.Password = a.Username+"@example.com", "correct horse "+a.Username
		body, ct := jsonBody(map[string]string{"username": a.Username, "email": a.Email, "password": a.Password})
		r, err := c.TrySend(http.MethodPost, urls[i%len(urls)]+"/signup", body, ct)
		if err != nil {
			return err
		}
		if r.StatusCode != http.StatusCreated {
			return fmt.Errorf("signup %s: %d %s", a.Username, r.StatusCode, r.Body)
		}
		var out struct {
			tokenResponse
			User struct{ ID string } `json:"user"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			return err
		}
		a.ID, a.Tokens = out.User.ID, out.tokenResponse
		users[i] = a
		return nil
	})
	return users
}

// syPatch sends PATCH /me for a with fields; it is goroutine-safe.
func syPatch(c *Client, authURL string, a account, fields map[string]string) (*Response, error) {
	body, ct := jsonBody(fields)
	r, err := c.TrySend(http.MethodPatch, authURL+"/me", body, ct, bearer(a.Tokens.AccessToken))
	if err == nil && r.StatusCode != http.StatusOK {
		err = fmt.Errorf("PATCH /me of %s: %d %s", a.Username, r.StatusCode, r.Body)
	}
	return r, err
}

// syParallel runs fn(0…n-1) on up to 8 goroutines and fails the test with the errors.
func syParallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSyncFlakyTarget checks CONTRACT §8 ("delivered with retries … until it is
// acknowledged"; "the target applies them idempotently and ignores an older version") with a
// target that answers 500 to its first calls: every user arrives once, at the right version.
// Then duplicated and reordered deliveries, replayed by hand with the auth server's own
// signed batches, change nothing: every acknowledged batch again, and, after an update and a
// deletion, older upserts under fresh event ids (captured from a `sync replay` that a target
// acknowledged without applying).
func TestSyncFlakyTarget(t *testing.T) {
	t.Parallel()
	target := newSyTarget(t)
	target.failFirst(3)
	s, app := syStartPG(t, map[string]string{"SYNC_URLS": target.URL()})
	target.setUpstream(s.Resource.URL + "/sync/users")
	c := newClient(t)
	users := sySignups(t, c, []string{s.Auth.URL}, "flaky", 5)
	want := map[string]int64{}
	for _, u := range users {
		want[u.ID] = 1
	}
	syWaitApp(t, app, want)
	syWaitPending(t, s.Auth, 0)
	if got := target.countCalls(func(k syCall) bool { return k.status == http.StatusInternalServerError }); got != 3 {
		t.Errorf("%d calls answered 500, want 3", got)
	}
	for id, events := range target.sentEvents(syOK) {
		if len(events) != 1 {
			t.Errorf("user %s: %d events acknowledged, want 1: %v", id, len(events), events)
		}
	}
	if tot := target.upstreamTotals(); tot.Applied != len(users) || tot.Ignored != 0 {
		t.Errorf("applied %d and ignored %d events, want %d and 0", tot.Applied, tot.Ignored, len(users))
	}

	// Older versions under fresh ids: a replay that the target acknowledges without applying.
	target.setSwallow(true)
	s.Auth.MustCLI("sync", "replay")
	syWaitPending(t, s.Auth, 0)
	target.setSwallow(false)
	stale := target.calls(func(k syCall) bool { return k.swallowed })

	// A newer version of one user, a deletion of another.
	if _, err := syPatch(c, s.Auth.URL, users[0], map[string]string{"email": "new-" + users[0].Email}); err != nil {
		t.Fatal(err)
	}
	body, ct := jsonBody(map[string]string{"password": users[1].Password})
	c.Send(http.MethodDelete, s.Auth.URL+"/me", body, ct, bearer(users[1].Tokens.AccessToken)).Want(t, http.StatusNoContent)
	want[users[0].ID], want[users[1].ID] = 2, -2
	before := syWaitApp(t, app, want)

	acked := target.calls(syOK)
	if len(stale) == 0 || len(acked) == 0 {
		t.Fatalf("captured %d stale and %d acknowledged batches: nothing to replay", len(stale), len(acked))
	}
	syResend(t, c, s.Resource.URL, append(acked, stale...))
	if after := syAppUsers(t, app); !syEqual(after, before) {
		t.Errorf("replayed batches changed the app database:\n got %+v\nwant %+v", after, before)
	}
	// The deleted user's token is refused (revoked with the deletion, CONTRACT §10).
	c.Get(s.Resource.URL+"/me", bearer(users[1].Tokens.AccessToken)).Want(t, http.StatusUnauthorized)
	if g := before[users[0].ID]; g.Email != "new-"+users[0].Email {
		t.Errorf("updated user's email at the app: %q, want %q", g.Email, "new-"+users[0].Email)
	}
}
