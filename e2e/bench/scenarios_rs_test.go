package bench

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// tokenTTL is the lifetime of minted tokens: ACCESS_TOKEN_TTL's default.
const tokenTTL = 15 * time.Minute

// counter hands out increasing numbers to concurrent workers.
type counter struct{ n atomic.Uint64 }

func (c *counter) next() uint64 { return c.n.Add(1) - 1 }
func (c *counter) load() uint64 { return c.n.Load() }

// runStore runs every row on one store: first the pinned phase (resource server, JWKS,
// refresh), then the phase on every CPU (login, signup), then the sync replay (which may
// leave the database busy), then the others.
func (h *harness) runStore(st storeCfg) {
	phases := strings.Split(*phasesArg, ",")
	if *scaleFlag {
		phases = append(phases, "scale")
	}
	if slices.Contains(phases, "pinned") {
		if err := h.pinnedPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "pinned phase (resource server, JWKS, refresh)", Err: err})
		}
	}
	if slices.Contains(phases, "hash") {
		if err := h.hashPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "phase on every CPU (login, signup)", Err: err})
		}
	}
	if slices.Contains(phases, "sync") {
		if err := h.syncPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "sync phase (sync replay, upsert ceiling)", Err: err})
		}
	}
	if slices.Contains(phases, "revoke") {
		if err := h.revokePhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "revocation phase (logout latency, deny-list cost)", Err: err})
		}
	}
	if slices.Contains(phases, "mail") {
		if err := h.mailPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "mail phase (/password/forgot, known and unknown address)", Err: err})
		}
	}
	if slices.Contains(phases, "memory") {
		if err := h.memoryPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "memory phase (resident memory after a login burst, during refreshes)", Err: err})
		}
	}
	if slices.Contains(phases, "pooler") {
		if err := h.poolerPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "pooler phase (refresh through pgbouncer)", Err: err})
		}
	}
	if slices.Contains(phases, "oauth") {
		if err := h.oauthPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "oauth phase (code flow, /authorize with a login cookie)", Err: err})
		}
	}
	if slices.Contains(phases, "admin") { // last: it adds 100,000 users to the database
		if err := h.adminPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "admin phase (client credentials, admin search)", Err: err})
		}
	}
	if slices.Contains(phases, "import") { // on fresh databases of its own
		if err := h.importPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "import phase (users import)", Err: err})
		}
	}
	if slices.Contains(phases, "mfa") { // after admin: it adds mfaUsers users too
		if err := h.mfaPhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "mfa phase (POST /login/mfa)", Err: err})
		}
	}
	if slices.Contains(phases, "scale") { // on generated databases of its own
		if err := h.scalePhase(st); err != nil {
			h.add(Row{Store: st.Name, Name: "scale phase (a small and a large database, the session cleanup)", Err: err})
		}
	}
}

// pinnedPhase runs the rows whose servers are pinned to the servers' CPU.
func (h *harness) pinnedPhase(st storeCfg) error {
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
	kek, _ := hex.DecodeString(h.kek)
	m, err := NewMinter(h.ctx, st.AuthURL, kek, issuer, []string{audience})
	if err != nil {
		return err
	}
	tokens, err := m.MintN(20000, tokenTTL)
	if err != nil {
		return err
	}
	hello, err := h.helloCeiling()
	if err != nil {
		return err
	}
	defer hello.proc.Stop()
	verify, err := h.verifyCeiling(m, tokens)
	if err != nil {
		return err
	}
	defer verify.proc.Stop()
	if tokens, err = h.enoughTokens(st, m, tokens, verify); err != nil {
		return err
	}
	if err := h.resourceRows(st, rs, m, tokens, hello, verify); err != nil {
		return err
	}
	h.jwksRow(st, auth, hello)
	h.refreshRow(st, auth, h.refreshCeiling(st))
	return nil
}

// enoughTokens mints tokens until the resource server, at the bare verify handler's rate (a
// probe of it, with room to spare), could not exhaust them in the row's runs and a profile
// run, so every request carries a token the server has never seen.
func (h *harness) enoughTokens(st storeCfg, m *Minter, tokens []string, verify *ceiling) ([]string, error) {
	rate, err := h.probe(verify)
	if err != nil {
		return nil, err
	}
	need := min(int(rate*h.dur.Seconds()*float64(h.runs+1)*1.5), 800000)
	if need <= len(tokens) {
		return tokens, nil
	}
	start := time.Now()
	more, err := m.MintN(need-len(tokens), tokenTTL)
	if err != nil {
		return nil, err
	}
	h.logf("%s: minted %d more tokens in %s", st.Name, len(more), time.Since(start).Round(time.Millisecond))
	return append(tokens, more...), nil
}

// resourceRows measures the resource server: /whoami with a new token each time and with one
// token repeated, and /awesome_app.
func (h *harness) resourceRows(st storeCfg, rs *Proc, m *Minter, tokens []string, hello, verify *ceiling) error {
	var fresh counter
	row := h.measure(scenario{store: st.Name, name: "resource server /whoami, a new ES256 token each time", conc: concHTTP,
		proc: rs, pinned: true, worker: bearerWorker(h, rs.Addr, "/whoami", tokens, &fresh)}, verify, atLeast(0.85))
	if n := fresh.load(); n > uint64(len(tokens)) {
		h.rep.Rows[len(h.rep.Rows)-1].Notes = append(row.Notes, fmt.Sprintf("%d requests for %d minted tokens: tokens were reused (the verifier caches 10,000)", n, len(tokens)))
	}
	same, err := m.MintN(1, tokenTTL)
	if err != nil {
		return err
	}
	h.measure(scenario{store: st.Name, name: "resource server /whoami, the same token repeated", conc: concHTTP,
		proc: rs, pinned: true, worker: bearerWorker(h, rs.Addr, "/whoami", same, new(counter))}, hello, atLeast(0.6))
	users, err := m.MintN(concHTTP, tokenTTL)
	if err != nil {
		return err
	}
	worker := func(addr string) func(int) (Op, error) {
		return func(i int) (Op, error) {
			c := h.conn(addr)
			raw := Render(addr, "GET", "/awesome_app", nil, "Authorization", "Bearer "+users[i%len(users)])
			return func() error {
				r, err := c.Do(raw)
				return expect(r, err, 200)
			}, nil
		}
	}
	env := []string{"BENCH_JWK=" + string(m.PublicJWK()), "BENCH_ISSUER=" + issuer, "BENCH_AUDIENCE=" + audience,
		"BENCH_DB_URL=" + st.AppURL, "BENCH_POOL=" + strconv.Itoa(dbMaxConns)}
	ceil, err := h.serverCeiling(CeilingAwesome, "bare /awesome_app handler (go-jose verify, the same read and driver)|bare awesome", env, worker)
	if err != nil {
		return err
	}
	defer ceil.proc.Stop()
	h.measure(scenario{store: st.Name, name: "resource server /awesome_app (reads the app database)", conc: concHTTP,
		proc: rs, pinned: true, worker: worker(rs.Addr)}, ceil, atLeast(0.6))
	return nil
}

// jwksRow measures the JWKS's 304 path: a client revalidating its cached copy.
func (h *harness) jwksRow(st storeCfg, auth *Proc, hello *ceiling) {
	const path = "/.well-known/jwks.json"
	c := NewConn(auth.Addr)
	r, err := c.Do(Render(auth.Addr, "GET", path, nil))
	c.Close()
	etag := r.Header.Get("ETag")
	if err == nil && (r.Status != 200 || etag == "") {
		err = fmt.Errorf("GET %s: status %d, ETag %q", path, r.Status, etag)
	}
	if err != nil {
		h.add(Row{Store: st.Name, Name: "JWKS, 304 path", Conc: concHTTP, Err: err})
		return
	}
	h.measure(scenario{store: st.Name, name: "JWKS, 304 path (If-None-Match)", conc: concHTTP, proc: auth, pinned: true,
		worker: func(int) (Op, error) {
			c, raw := h.conn(auth.Addr), Render(auth.Addr, "GET", path, nil, "If-None-Match", etag)
			return func() error {
				r, err := c.Do(raw)
				return expect(r, err, 304)
			}, nil
		}}, hello, atLeast(0.6))
}
