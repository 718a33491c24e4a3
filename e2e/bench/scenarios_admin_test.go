package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/jwtauth/jwtauth/db"
)

// adminUsers is how many users the admin search runs over.
const adminUsers = 100_000

// adminPhase runs the rows of registered clients and the admin API on a pinned auth server:
// client_credentials tokens against a bare signing handler, and the admin search over
// adminUsers users against a bare handler running the same query.
func (h *harness) adminPhase(st storeCfg) error {
	dead, err := FreePort() // no sync target: the phase measures the auth server alone
	if err != nil {
		return err
	}
	sync := "http://" + dead + "/sync/users"
	auth, err := h.startAuth(st, h.server, sync)
	if err != nil {
		return err
	}
	defer auth.Stop()
	h.logf("%s: filling %d users for the admin search", st.Name, adminUsers)
	if err := fillUsers(h.ctx, st.AuthURL, adminUsers); err != nil {
		return err
	}
	if _, err := h.cli(st, sync, "bench admin password\n", "users", "create", "benchadmin", "benchadmin@bench.example", "--role", "admin"); err != nil {
		return err
	}
	c := NewConn(auth.Addr)
	t, err := call(c, auth.Addr, "/token", []byte(`{"grant_type":"password","username":"benchadmin","password":"bench admin password","scope":"admin"}`), 200)
	c.Close()
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	out, err := h.cli(st, sync, "", "clients", "add", "bench-service", "--confidential", "--grant", "client_credentials", "--scope", "notes:read")
	if err != nil {
		return err
	}
	id := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		return fmt.Errorf("clients add printed %q", out)
	}
	if err := h.clientCredentialsRow(st, auth, id[1], secret[1]); err != nil {
		return err
	}
	return h.adminSearchRow(st, auth, t.AccessToken)
}

// cli runs an auth-server command on st with stdin, returning its standard output.
func (h *harness) cli(st storeCfg, sync, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(h.ctx, h.bin+"/auth-server", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = h.dir, append(BaseEnv(), h.authEnv(st, sync)...), strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("auth-server %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// fillUsers inserts n users adm000000… and refreshes the planner's statistics, as a
// database that grew to this size would have them (PostgreSQL's autovacuum takes up to a
// minute to gather them after a bulk load).
func fillUsers(ctx context.Context, url string, n int) error {
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := insertUsers(ctx, d, "adm%06d", n); err != nil {
		return err
	}
	return d.Analyze(ctx)
}

// clientCredentialsRow measures client_credentials token requests with client_secret_basic.
func (h *harness) clientCredentialsRow(st storeCfg, auth *Proc, id, secret string) error {
	sum := sha256.Sum256([]byte(secret))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	worker := func(addr, path string) func(int) (Op, error) {
		return func(int) (Op, error) {
			c := h.conn(addr)
			raw := Render(addr, "POST", path, []byte("grant_type=client_credentials"),
				"Content-Type", "application/x-www-form-urlencoded", "Authorization", basic)
			return func() error {
				r, err := c.Do(raw)
				return expect(r, err, 200)
			}, nil
		}
	}
	ceil, err := h.serverCeiling(CeilingSign, "bare client_credentials handler (secret check, go-jose ES256)|bare sign",
		[]string{"BENCH_CLIENT_ID=" + id, "BENCH_SECRET_HASH=" + hex.EncodeToString(sum[:]), "BENCH_ISSUER=" + issuer, "BENCH_AUDIENCE=" + audience},
		func(addr string) func(int) (Op, error) { return worker(addr, "/token") })
	if err != nil {
		return err
	}
	defer ceil.proc.Stop()
	h.measure(scenario{store: st.Name, name: "client_credentials token (POST /token, client_secret_basic)", conc: concHTTP,
		proc: auth, pinned: true, worker: worker(auth.Addr, "/token")}, ceil, atLeast(0.7))
	return nil
}

// adminSearchRow measures GET /admin/users?q=PREFIX over adminUsers users, each request
// another prefix matching ten of them.
func (h *harness) adminSearchRow(st storeCfg, auth *Proc, token string) error {
	worker := func(addr, path string, header ...string) func(int) (Op, error) {
		return h.searchWorker(addr, path, func(n uint64) string { return fmt.Sprintf("adm%05d", n%(adminUsers/10)) }, header...)
	}
	ceil, err := h.serverCeiling(CeilingSearch, "bare prefix search handler (same query and driver)|bare search",
		[]string{"BENCH_DB_URL=" + st.AuthURL, "BENCH_POOL=" + strconv.Itoa(dbMaxConns)},
		func(addr string) func(int) (Op, error) { return worker(addr, "/?q=") })
	if err != nil {
		return err
	}
	defer ceil.proc.Stop()
	h.measure(scenario{store: st.Name, name: fmt.Sprintf("GET /admin/users?q=prefix, %d users", adminUsers), conc: concHTTP,
		proc: auth, pinned: true, worker: worker(auth.Addr, "/admin/users?q=", "Authorization", "Bearer "+token)}, ceil, atLeast(0.6))
	return nil
}

// searchWorker sends GET path+prefix(n), n counting up across its runs.
func (h *harness) searchWorker(addr, path string, prefix func(n uint64) string, header ...string) func(int) (Op, error) {
	var n counter
	return func(int) (Op, error) {
		c := h.conn(addr)
		return func() error {
			r, err := c.Do(Render(addr, "GET", path+prefix(n.next()), nil, header...))
			return expect(r, err, 200)
		}, nil
	}
}
