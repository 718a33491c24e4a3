package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/keys"
)

// mfaUsers is how many users with TOTP, each with one pending second step, the mfa phase
// prepares: every request spends one (a TOTP code is accepted once per user and time step,
// and an mfa_token once), so there must be more than the row's runs send in all.
const mfaUsers = 60_000

// benchTOTPSecret is the TOTP secret of every prepared user (base32 of 20 bytes).
const benchTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// mfaPhase measures POST /login/mfa on a pinned auth server against a bare handler doing the
// same TOTP check and token signing (CeilingMFA). The users, their sealed secrets and their
// pending second steps are written straight into the database, as the password step would
// leave them (the password step costs an argon2id hash each, which is the login row's).
func (h *harness) mfaPhase(st storeCfg) error {
	dead, err := FreePort()
	if err != nil {
		return err
	}
	auth, err := h.startAuth(st, h.server, "http://"+dead+"/sync/users")
	if err != nil {
		return err
	}
	defer auth.Stop()
	h.logf("%s: preparing %d users with TOTP and a pending second step", st.Name, mfaUsers)
	toks, err := h.fillMFA(h.ctx, st.AuthURL, mfaUsers)
	if err != nil {
		return err
	}
	// worker sends prepared second steps, each once across every run of one server (next
	// counts them); the bare handler checks none, so it cycles through them (cycle).
	worker := func(addr string, next *counter, cycle bool) func(int) (Op, error) {
		return func(int) (Op, error) {
			c := h.conn(addr)
			return func() error {
				i := next.next()
				switch {
				case cycle:
					i %= uint64(len(toks))
				case i >= uint64(len(toks)):
					return fmt.Errorf("all %d prepared second steps spent", len(toks))
				}
				code, err := totp.GenerateCodeCustom(benchTOTPSecret, time.Now(), totpOpts)
				if err != nil {
					return err
				}
				body, _ := json.Marshal(map[string]string{"mfa_token": toks[i], "code": code})
				r, err := c.Do(Render(addr, "POST", "/login/mfa", body))
				return expect(r, err, 200)
			}, nil
		}
	}
	ceil, err := h.serverCeiling(CeilingMFA, "bare second-step handler (TOTP check, go-jose ES256)|bare mfa",
		[]string{"BENCH_TOTP_SECRET=" + benchTOTPSecret, "BENCH_ISSUER=" + issuer, "BENCH_AUDIENCE=" + audience},
		func(addr string) func(int) (Op, error) { return worker(addr, new(counter), true) })
	if err != nil {
		return err
	}
	defer ceil.proc.Stop()
	h.measure(scenario{store: st.Name, name: "second login step (POST /login/mfa, TOTP)", conc: concHTTP,
		proc: auth, pinned: true, worker: worker(auth.Addr, new(counter), false)}, ceil, atLeast(0.7))
	return nil
}

// fillMFA inserts n users mfa000000… with a confirmed TOTP secret (benchTOTPSecret, sealed
// with the harness's KEY_ENCRYPTION_KEY as the auth server seals it: AES-256-GCM under
// keys.Sealer, "totp:<user id>" as associated data, base64) and one pending second step each
// (mfa_challenges, its token hashed as the auth server hashes it), and returns the steps'
// mfa_tokens.
func (h *harness) fillMFA(ctx context.Context, url string, n int) ([]string, error) {
	kek, err := hex.DecodeString(h.kek)
	if err != nil {
		return nil, err
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	toks := make([]string, n)
	const batch = 500
	now := time.Now().UnixMilli()
	for from := 0; from < n; from += batch {
		var users, totps, steps []string
		var ua, ta, sa []any
		for i := from; i < min(from+batch, n); i++ {
			id, name := uuid.NewString(), fmt.Sprintf("mfa%06d", i)
			sealed, err := sealer.Seal("totp:"+id, []byte(benchTOTPSecret))
			if err != nil {
				return nil, err
			}
			raw := make([]byte, 32)
			_, _ = rand.Read(raw)
			toks[i] = base64.RawURLEncoding.EncodeToString(raw)
			sum := sha256.Sum256([]byte("jwtauth-refresh-id:" + toks[i])) // refresh.Hash
			users, totps, steps = append(users, "(?, ?, ?, ?, 1, ?, ?)"), append(totps, "(?, ?, ?, ?, 0)"), append(steps, "(?, ?, ?, ?, ?, ?)")
			ua = append(ua, id, name, name+"@bench.example", "bench-placeholder", now, now)
			ta = append(ta, id, base64.StdEncoding.EncodeToString(sealed), now, now)
			sa = append(sa, base64.RawURLEncoding.EncodeToString(sum[:]), id, "first-party", "openid profile email notes:read notes:write", now, now+3_600_000)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users (id, username, email, password_hash, version, created_at, updated_at) VALUES ` + strings.Join(users, ", "), ua},
			{`INSERT INTO mfa_totp (user_id, secret_sealed, created_at, confirmed_at, last_step) VALUES ` + strings.Join(totps, ", "), ta},
			{`INSERT INTO mfa_challenges (token_hash, user_id, client_id, scope, created_at, expires_at) VALUES ` + strings.Join(steps, ", "), sa},
		} {
			if _, err := d.ExecContext(ctx, d.Rebind(q.sql), q.args...); err != nil {
				return nil, fmt.Errorf("prepare mfa users: %w", err)
			}
		}
	}
	return toks, d.Analyze(ctx)
}
