package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// testKEK is the KEY_ENCRYPTION_KEY of every test (64 hex characters): processes that share
// a database must share it.
const testKEK = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// testSecret is a SECRET_KEY of the right length for HS256 tests.
const testSecret = "e2e-shared-secret-of-at-least-32-bytes-long"

// discardSync is a sync target nobody listens on (the discard port), for an auth server
// started without a resource server.
const discardSync = "http://127.0.0.1:9/sync/users"

// authDefaults are the auth server's test defaults, applied under the caller's env. A key
// the caller maps to "" is left unset (the server's own default, or a .env file, applies).
func authDefaults(port int) map[string]string {
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return map[string]string{
		"AUTH_ISSUER":        base,
		"ARGON2_PARAMS":      "m=64,t=1,p=1", // fast: the tests are not about hashing cost
		"KEY_ENCRYPTION_KEY": testKEK,
		"SYNC_URLS":          discardSync,
	}
}

// newAuth prepares an auth server with env over authDefaults (not started). Unless env says
// otherwise it uses the embedded SQLite default in its own working directory.
func newAuth(t testing.TB, env map[string]string) *Proc {
	t.Helper()
	p := newProc(t, kindAuth, env)
	for k, v := range authDefaults(p.Port) {
		if _, set := env[k]; !set {
			p.env[k] = v
		}
	}
	return p
}

// startAuth starts an auth server (see newAuth) and waits until /readyz answers 200.
func startAuth(t testing.TB, env map[string]string) *Proc {
	t.Helper()
	p := newAuth(t, env)
	p.Start()
	return p
}

// startReplicas starts n auth servers with env on one database (env should name a
// PostgreSQL AUTH_DATABASE_URL), all with the first one's AUTH_ISSUER, so that a token of
// any of them verifies where the first one's does. They are named auth-server#1…#n.
func startReplicas(t testing.TB, n int, env map[string]string) []*Proc {
	t.Helper()
	first := newAuth(t, env)
	first.Name += "#1"
	first.Start()
	out := []*Proc{first}
	for i := 2; i <= n; i++ {
		e := map[string]string{"AUTH_ISSUER": first.env["AUTH_ISSUER"]}
		for k, v := range env {
			e[k] = v
		}
		p := newAuth(t, e)
		p.Name += "#" + strconv.Itoa(i)
		p.Start()
		out = append(out, p)
	}
	return out
}

// resourceEnvFor is the environment that points a resource server at auth: its JWKS, its
// issuer, and its algorithm, secret and audience when auth was given them.
func resourceEnvFor(auth *Proc) map[string]string {
	env := map[string]string{"JWKS_URL": auth.URL + "/.well-known/jwks.json", "AUTH_ISSUER": auth.env["AUTH_ISSUER"]}
	for _, k := range []string{"ALGORITHM", "SECRET_KEY", "AUTH_AUDIENCE"} {
		if v := auth.env[k]; v != "" {
			env[k] = v
		}
	}
	return env
}

// newResource prepares a resource server with env (not started); env should hold at least
// JWKS_URL and AUTH_ISSUER (see resourceEnvFor). It uses SQLite unless env says otherwise.
func newResource(t testing.TB, env map[string]string) *Proc {
	t.Helper()
	return newProc(t, kindResource, env)
}

// startResource starts a resource server (see newResource) and waits until /healthz answers.
func startResource(t testing.TB, env map[string]string) *Proc {
	t.Helper()
	p := newResource(t, env)
	p.Start()
	return p
}

// StackOptions configure startStack. Env maps are applied over the defaults ("" unsets a
// default); Files are written into each working directory before the start (e.g. ".env").
type StackOptions struct {
	Auth, Resource           map[string]string
	AuthFiles, ResourceFiles map[string]string
}

// Stack is an auth server and a resource server wired together: the resource server reads
// the auth server's JWKS and issuer, the auth server syncs users to the resource server.
type Stack struct {
	Auth, Resource *Proc
}

// startStack starts both servers and waits until the resource server has loaded the keys
// (/readyz 200), so a test may use tokens at once.
func startStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	rport := freePort(t)
	aenv := map[string]string{"SYNC_URLS": "http://127.0.0.1:" + strconv.Itoa(rport) + "/sync/users"}
	for k, v := range o.Auth {
		aenv[k] = v
	}
	auth := newAuth(t, aenv)
	for name, content := range o.AuthFiles {
		auth.WriteFile(name, content)
	}
	auth.Start()
	renv := resourceEnvFor(auth)
	renv["RESOURCE_ADDR"] = "127.0.0.1:" + strconv.Itoa(rport)
	for k, v := range o.Resource {
		renv[k] = v
	}
	res := newResource(t, renv)
	for name, content := range o.ResourceFiles {
		res.WriteFile(name, content)
	}
	res.Start()
	waitStatus(t, res.URL+"/readyz", http.StatusOK, readyTimeout)
	return &Stack{Auth: auth, Resource: res}
}

// pgEnv returns AUTH_DATABASE_URL and APP_DATABASE_URL of two fresh PostgreSQL databases,
// dropped when the test ends; the test is skipped when TEST_DATABASE_URL is unset.
func pgEnv(t testing.TB) (authEnv, resourceEnv map[string]string) {
	t.Helper()
	return map[string]string{"AUTH_DATABASE_URL": testdb.PostgresURL(t)},
		map[string]string{"APP_DATABASE_URL": testdb.PostgresURL(t)}
}

// waitStatus polls url until it answers want, failing the test after timeout.
func waitStatus(t testing.TB, url string, want int, timeout time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	var last string
	ok := poll(timeout, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == want
	})
	if !ok {
		t.Fatalf("GET %s: want %d within %s, last %s", url, want, timeout, last)
	}
}

// poll calls cond every pollEvery until it returns true (poll returns true) or timeout
// passes (false).
func poll(timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
}
