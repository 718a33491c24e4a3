package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/pgbouncertest"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Pooled is a deployment of the servers on PostgreSQL behind a transaction-mode pgbouncer
// (issue 19): n auth-server replicas on one auth database and m resource-server replicas on
// one app database, every one of them (and every CLI command run with a replica's
// environment) reaching its database only through the pooler, with the default
// DB_PREPARED_STATEMENTS=auto. The auth servers sync to Target, a recording proxy in front of
// Resource[0]. AuthDB and AppDB are direct connections, for the test's own reads.
type Pooled struct {
	Auth, Resource []*Proc
	Target         *syTarget
	// AuthURL and AppURL reach the databases through the pooler.
	AuthURL, AppURL string
	AuthDB, AppDB   *db.DB
}

// startPooled starts a Pooled deployment of n auth servers (with authExtra over the fast
// relay settings) and m resource servers, and waits until every resource server has the keys.
// It is skipped when TEST_DATABASE_URL is unset or pgbouncer is not installed.
func startPooled(t *testing.T, n, m int, authExtra map[string]string) *Pooled {
	t.Helper()
	if pgbouncertest.Binary() == "" {
		t.Skip("pgbouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)")
	}
	authDirect, appDirect := testdb.PostgresURL(t), testdb.PostgresURL(t)
	urls := pgbouncertest.StartMany(t, pgbouncertest.Options{PoolSize: 8}, authDirect, appDirect)
	p := &Pooled{AuthURL: urls[0], AppURL: urls[1], Target: newSyTarget(t)}
	aenv := map[string]string{"AUTH_DATABASE_URL": p.AuthURL, "SYNC_URLS": p.Target.URL(), "KEY_PUBLISH_AHEAD": "1s", "JWKS_MAX_AGE": "1s"}
	for k, v := range authExtra {
		aenv[k] = v
	}
	p.Auth = startReplicas(t, n, syFast(aenv))
	for i := 1; i <= m; i++ {
		env := resourceEnvFor(p.Auth[0])
		env["APP_DATABASE_URL"] = p.AppURL
		r := newResource(t, env)
		r.Name += "#" + strconv.Itoa(i)
		r.Start()
		p.Resource = append(p.Resource, r)
	}
	for _, r := range p.Resource {
		waitStatus(t, r.URL+"/readyz", http.StatusOK, readyTimeout)
	}
	p.Target.setUpstream(p.Resource[0].URL + "/sync/users")
	p.AuthDB, p.AppDB = syOpen(t, authDirect), syOpen(t, appDirect)
	return p
}

// TestThroughTransactionPooler checks that both servers work through PgBouncer in
// transaction mode (issue 19) with two replicas of each: concurrent refreshes of one token
// across the auth replicas end on one token (CONTRACT §5), a key rotation by the CLI is
// picked up by both and accepted by both resource servers (§4), sessions and their ends are
// seen by both (§6), and the two relays share the outbox through their leases, every event
// acknowledged once and every user at the app at its last version (§8), readable through
// either resource server. (Why the pooler needs the servers' pooler-safe mode at all is
// db's TestNamedStatementsBreakBehindTransactionPooler.)
func TestThroughTransactionPooler(t *testing.T) {
	t.Parallel()
	p := startPooled(t, 2, 2, nil)
	a, b := p.Auth[0], p.Auth[1]
	for _, r := range append(slices.Clone(p.Auth), p.Resource...) {
		if out := r.Output(); !strings.Contains(out, `"named_statements":false`) {
			t.Errorf("%s did not choose client-side statements behind the pooler:\n%s", r.Name, r.Output())
		}
	}
	t.Run("refresh race", func(t *testing.T) { plRefreshRace(t, p) })
	t.Run("sessions", func(t *testing.T) { rpSessions(t, a, b) })
	t.Run("rotation", func(t *testing.T) {
		rpRotation(t, a, b, p.Resource[0])
		c := newClient(t)
		u := c.signup(b.URL, "rotated2")
		c.Get(p.Resource[1].URL+"/whoami", bearer(c.login(a.URL, u).AccessToken)).Want(t, http.StatusOK)
	})
	t.Run("sync leases", func(t *testing.T) { plSyncLeases(t, p) })
}

// plRefreshRace: 60 refreshes of one token at once, alternating between the replicas and
// between POST /token and POST /refresh, all answer 200 with one same child, and the session
// keeps exactly one live token (TestRefreshRaceAcrossTwoProcesses, through the pooler).
func plRefreshRace(t *testing.T, p *Pooled) {
	c := newClient(t)
	u := c.signup(p.Auth[0].URL, "pooledracer")
	tr := c.login(p.Auth[1].URL, u)
	sid := rfSID(t, tr.AccessToken)
	const n = 60
	answers := make([]rfAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = rfRefresh(c, p.Auth[i%2].URL, tr.RefreshToken, i/2%2 == 0)
		}()
	}
	close(start)
	wg.Wait()
	children := map[string]int{}
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusOK {
			t.Errorf("refresh %d: status %d, err %v, body %s", i, a.status, a.err, a.body)
			continue
		}
		children[a.tokens.RefreshToken]++
	}
	if len(children) != 1 {
		t.Fatalf("%d distinct refresh tokens from %d concurrent refreshes of one token, want 1: %v", len(children), n, children)
	}
	if live := rfLiveTokens(t, p.AuthDB, sid); live != 1 {
		t.Fatalf("session %s has %d unspent refresh tokens after the race, want 1", sid, live)
	}
}

// plSyncLeases: 20 signups and two updates per user spread over both auth replicas reach the
// app at the users' last versions, each event acknowledged once (the relays' leases hold
// through the pooler), and each user reads back through both resource servers.
func plSyncLeases(t *testing.T, p *Pooled) {
	const n = 20
	c := newClient(t)
	urls := []string{p.Auth[0].URL, p.Auth[1].URL}
	users := sySignups(t, c, urls, "pooled", n)
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
	syWaitApp(t, p.AppDB, want)
	syWaitPending(t, p.Auth[0], 0)
	p.Target.checkAckedOnce(t)
	// A replay through the pooler, its lease shared by both replicas: the users the app
	// database lost come back, and every page is acknowledged once.
	for _, u := range users[:5] {
		if _, err := p.AppDB.Exec(p.AppDB.Rebind(`DELETE FROM app_users WHERE id = ?`), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	p.Auth[1].MustCLI("sync", "replay")
	syWaitApp(t, p.AppDB, want)
	syWaitPending(t, p.Auth[0], 0)
	p.Target.checkAckedOnce(t)
	for i, u := range users[:4] {
		tok := c.login(urls[i%2], u).AccessToken
		for _, r := range p.Resource {
			var me struct{ Email string }
			c.Get(r.URL+"/me", bearer(tok)).Want(t, http.StatusOK).JSON(t, &me)
			if me.Email != "v3-"+u.Email {
				t.Errorf("%s /me of %s: email %q, want %q", r.Name, u.Username, me.Email, "v3-"+u.Email)
			}
		}
	}
}

// TestPoolerNeedsItsMode shows, with the real binaries, that the pooler-safe mode matters:
// through a transaction-mode pgbouncer with one server connection, an auth server with
// DB_PREPARED_STATEMENTS=on fails concurrent refreshes (its connections' named statements
// meet on the one server connection: "prepared statement … already exists" or "… does not
// exist"), while one with the default (auto, which finds the pooler) refreshes the same way
// without a failure. Migrations need no named statement, so both servers migrate.
func TestPoolerNeedsItsMode(t *testing.T) {
	t.Parallel()
	if pgbouncertest.Binary() == "" {
		t.Skip("pgbouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)")
	}
	urls := pgbouncertest.StartMany(t, pgbouncertest.Options{PoolSize: 1}, testdb.PostgresURL(t), testdb.PostgresURL(t))
	const chains, rounds = 8, 5
	auto := startAuth(t, map[string]string{"AUTH_DATABASE_URL": urls[0]})
	c := newClient(t)
	u := c.signup(auto.URL, "pooled")
	tokens := make([]string, 2*chains) // the first half for the default mode, the rest for on
	for i := range tokens {
		tokens[i] = c.login(auto.URL, u).RefreshToken
	}
	// refresh follows each chain from its token at once, rounds times, and counts the chains
	// that met an answer other than 200.
	refresh := func(c *Client, url string, tokens []string) int {
		var failed atomic.Int64
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					r := rfRefresh(c, url, tokens[i], false)
					if r.err != nil || r.status != http.StatusOK {
						failed.Add(1)
						return
					}
					tokens[i] = r.tokens.RefreshToken
				}
			}()
		}
		wg.Wait()
		return int(failed.Load())
	}
	if failed := refresh(c, auto.URL, tokens[:chains]); failed != 0 {
		t.Errorf("refreshes through pgbouncer with the default mode: %d of %d chains failed, want none", failed, chains)
	}
	on := startAuth(t, map[string]string{"AUTH_DATABASE_URL": urls[0], "DB_PREPARED_STATEMENTS": "on"})
	raw := &Client{t: t, hc: &http.Client{Timeout: 30 * time.Second}} // its 500s are the point
	failed := refresh(raw, on.URL, tokens[chains:])
	t.Logf("DB_PREPARED_STATEMENTS=on: %d of %d chains failed", failed, chains)
	if failed == 0 || !strings.Contains(on.Output(), "prepared statement") {
		t.Errorf("refreshes through pgbouncer with DB_PREPARED_STATEMENTS=on: %d of %d chains failed, want some, with a log naming a prepared statement", failed, chains)
	}
	newResource(t, map[string]string{"APP_DATABASE_URL": urls[1], "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json"}).MustCLI("migrate")
}
