package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// refreshTok presents a refresh token to POST /refresh.
func (e *env) refreshTok(rt string) resp {
	e.t.Helper()
	return e.do("POST", "/refresh", map[string]string{"refresh_token": rt})
}

// mustRefresh refreshes rt and returns the response, failing on anything but 200.
func (e *env) mustRefresh(rt string) resp {
	e.t.Helper()
	r := e.refreshTok(rt)
	if r.Status != http.StatusOK {
		e.t.Fatalf("refresh: %d %s", r.Status, r.Raw)
	}
	return r
}

// wantInvalidGrant fails unless r is 400 invalid_grant.
func wantInvalidGrant(t testing.TB, what string, r resp) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("%s: %d %s, want 400 invalid_grant", what, r.Status, r.Raw)
	}
}

// claimOf returns a string claim of a JWT without verifying it (the tests only read their own).
func claimOf(t testing.TB, jwt, claim string) string {
	t.Helper()
	s, _ := claims(t, jwt)[claim].(string)
	return s
}

// refreshCount reads auth_refreshes_total{outcome}.
func (e *env) refreshCount(outcome string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "auth_refreshes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// hasAudit reports whether userID has an audit event named event (of session sid, if set).
func (e *env) hasAudit(userID, event, sid string) bool {
	e.t.Helper()
	evs, err := e.store.AuditEvents(context.Background(), userID, 200)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Event == event && (sid == "" || ev.SessionID == sid) {
			return true
		}
	}
	return false
}

func userIDOf(r resp) string {
	u, _ := r.Body["user"].(map[string]any)
	id, _ := u["id"].(string)
	return id
}

func TestRefreshRotation(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("rota", "rota@example.com", "password1")
		rt0, sid := su.str("refresh_token"), claimOf(t, su.str("access_token"), "sid")

		r1 := e.mustRefresh(rt0)
		rt1 := r1.str("refresh_token")
		if rt1 == "" || rt1 == rt0 || len(rt1) < 43 {
			t.Fatalf("new refresh token %q, want a fresh 256-bit token", rt1)
		}
		if got := claimOf(t, r1.str("access_token"), "sid"); got != sid {
			t.Errorf("sid after refresh = %q, want the session %q", got, sid)
		}
		if r1.Header.Get("Cache-Control") != "no-store" || r1.str("token_type") != "Bearer" || r1.Body["expires_in"] == nil {
			t.Errorf("token response: %v %s", r1.Header, r1.Raw)
		}
		if me := e.do("GET", "/me", nil, bearer(r1.str("access_token"))...); me.Status != http.StatusOK {
			t.Errorf("/me with the refreshed access token: %d", me.Status)
		}
		// The token endpoint, as a form and as JSON.
		r2 := e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
		if r2.Status != http.StatusOK || r2.str("refresh_token") == rt1 {
			t.Fatalf("/token form: %d %s", r2.Status, r2.Raw)
		}
		r3 := e.do("POST", "/token", map[string]string{"grant_type": "refresh_token", "refresh_token": r2.str("refresh_token")})
		if r3.Status != http.StatusOK || claimOf(t, r3.str("access_token"), "sid") != sid {
			t.Fatalf("/token JSON: %d %s", r3.Status, r3.Raw)
		}
		for _, tc := range []struct {
			name   string
			r      resp
			status int
			code   string
		}{
			{"unknown", e.refreshTok("no-such-token"), 400, "invalid_grant"},
			{"too long", e.refreshTok(strings.Repeat("x", 1000)), 400, "invalid_grant"},
			{"missing", e.do("POST", "/refresh", map[string]string{}), 400, "invalid_request"},
			{"empty on /token", e.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}}), 400, "invalid_request"},
			{"a JWT", e.refreshTok(r3.str("access_token")), 400, "invalid_grant"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.r.Status != tc.status || tc.r.str("error") != tc.code {
					t.Errorf("%d %s, want %d %s", tc.r.Status, tc.r.Raw, tc.status, tc.code)
				}
			})
		}
		if got := e.refreshCount("rotated"); got != 3 {
			t.Errorf("rotated = %v, want 3", got)
		}
		if got := e.refreshCount("invalid"); got != 3 {
			t.Errorf("invalid = %v, want 3", got)
		}
	})
}

func TestRefreshReplayAndReuse(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		su := e.signup("replay", "replay@example.com", "password1")
		uid, sid := userIDOf(su), claimOf(t, su.str("access_token"), "sid")
		other := e.login("replay", "password1") // a second session of the same user
		rt0 := su.str("refresh_token")
		rt1 := e.mustRefresh(rt0).str("refresh_token")

		// The child is unspent: a replay long after (within the token's life) gets it again.
		e.clock.Advance(30 * time.Minute)
		if got := e.mustRefresh(rt0).str("refresh_token"); got != rt1 {
			t.Fatalf("replay with unspent child gave %q, want the same child", got)
		}
		// The child spent, but within the grace of rt1's spending: the same child again.
		rt2 := e.mustRefresh(rt1).str("refresh_token")
		rt3 := e.mustRefresh(rt2).str("refresh_token") // the newest token of the session
		e.clock.Advance(9 * time.Second)
		rp := e.mustRefresh(rt1)
		if rp.str("refresh_token") != rt2 || claimOf(t, rp.str("access_token"), "sid") != sid {
			t.Fatalf("replay within grace gave %q, want %q in the same session", rp.str("refresh_token"), rt2)
		}
		if got := e.refreshCount("replay"); got != 2 {
			t.Errorf("replay count = %v, want 2", got)
		}
		// After the grace, with the child spent: reuse. The session is revoked, committed.
		e.clock.Advance(2 * time.Second)
		wantInvalidGrant(t, "reuse", e.refreshTok(rt1))
		wantInvalidGrant(t, "newest token of the revoked session", e.refreshTok(rt3))
		if e.refreshCount("reuse") != 1 {
			t.Errorf("reuse count = %v, want 1", e.refreshCount("reuse"))
		}
		if !e.hasAudit(uid, store.AuditRefreshReuse, sid) {
			t.Error("no refresh.reuse audit event")
		}
		if me := e.do("GET", "/me", nil, bearer(rp.str("access_token"))...); me.Status != http.StatusUnauthorized {
			t.Errorf("/me with an access token of the revoked session: %d, want 401", me.Status)
		}
		if _, live, err := e.store.SessionUser(context.Background(), sid, e.clock.Now()); err != nil || live {
			t.Errorf("session live = %v, %v after reuse", live, err)
		}
		// The other session of the same user keeps working.
		e.mustRefresh(other.str("refresh_token"))
	})
}

func TestRefreshNewestTokenFailsAfterReuse(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		rt0 := e.signup("thief", "thief@example.com", "password1").str("refresh_token")
		rt1 := e.mustRefresh(rt0).str("refresh_token") // the thief (or the user) moves on
		newest := e.mustRefresh(rt1).str("refresh_token")
		e.clock.Advance(time.Minute)
		wantInvalidGrant(t, "stale rt0", e.refreshTok(rt0))
		wantInvalidGrant(t, "newest token after reuse", e.refreshTok(newest))
		wantInvalidGrant(t, "rt0 again", e.refreshTok(rt0)) // no second alarm: the session is revoked
		if got := e.refreshCount("reuse"); got != 1 {
			t.Errorf("reuse count = %v, want 1", got)
		}
	})
}

func TestRefreshExpiry(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		policy := refresh.Policy{IdleTTL: time.Hour, MaxTTL: 2 * time.Hour, ReuseGrace: 10 * time.Second}
		e := newEnv(t, d, func(c *envConfig) { c.account.Refresh = policy })
		e.signup("expiry", "expiry@example.com", "password1")

		t.Run("idle", func(t *testing.T) {
			rt := e.login("expiry", "password1").str("refresh_token")
			e.clock.Advance(time.Hour - time.Second)
			rt = e.mustRefresh(rt).str("refresh_token") // used in time: a fresh hour
			e.clock.Advance(time.Hour)
			wantInvalidGrant(t, "idle token", e.refreshTok(rt))
		})
		t.Run("max ttl", func(t *testing.T) {
			rt := e.login("expiry", "password1").str("refresh_token")
			for range 2 {
				e.clock.Advance(50 * time.Minute)
				rt = e.mustRefresh(rt).str("refresh_token")
			}
			e.clock.Advance(20*time.Minute + time.Second) // 2h+1s after login; the token was capped at 2h
			wantInvalidGrant(t, "past SESSION_MAX_TTL", e.refreshTok(rt))
		})
	})
}

// twoReplicas starts two auth servers on two connection pools of one fresh database
// (SQLite, and PostgreSQL when TEST_DATABASE_URL is set), like two replicas.
func twoReplicas(t *testing.T, fn func(t *testing.T, a, b *env, d *db.DB)) {
	for _, tc := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", testdb.SQLiteURL}, {"postgres", testdb.PostgresURL}} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url(t)
			d := testdb.Open(t, u, db.AuthSchema)
			fn(t, newEnv(t, d), newEnv(t, testdb.Open(t, u, db.AuthSchema)), d)
		})
	}
}

// postRefresh is a goroutine-safe refresh: it returns the status and the refresh token.
func postRefresh(ctx context.Context, base, rt string) (int, string, error) {
	body, _ := json.Marshal(map[string]string{"refresh_token": rt})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/refresh", strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out.RefreshToken, nil
}

// TestRefreshRace: 50 simultaneous refreshes of one token across two replicas all get 200
// and the same new refresh token, and the session ends with exactly one unspent token.
func TestRefreshRace(t *testing.T) {
	twoReplicas(t, func(t *testing.T, a, b *env, d *db.DB) {
		su := a.signup("racer", "racer@example.com", "password1")
		rt0, sid := su.str("refresh_token"), claimOf(t, su.str("access_token"), "sid")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const n = 50
		type result struct {
			status int
			rt     string
			err    error
		}
		results := make(chan result, n)
		start := make(chan struct{})
		for i := range n {
			base := []string{a.srv.URL, b.srv.URL}[i%2]
			go func() {
				<-start
				status, rt, err := postRefresh(ctx, base, rt0)
				results <- result{status, rt, err}
			}()
		}
		close(start)
		seen := map[string]int{}
		for range n {
			r := <-results
			switch {
			case r.err != nil:
				t.Errorf("refresh: %v", r.err)
			case r.status != http.StatusOK:
				t.Errorf("refresh: status %d, want 200", r.status)
			default:
				seen[r.rt]++
			}
		}
		if len(seen) != 1 {
			t.Errorf("distinct refresh tokens = %d (%v), want 1", len(seen), seen)
		}
		var unspent, total int
		if err := d.Get(&unspent, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND spent_at = 0`), sid); err != nil {
			t.Fatal(err)
		}
		if err := d.Get(&total, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE session_id = ?`), sid); err != nil {
			t.Fatal(err)
		}
		if unspent != 1 || total != 2 {
			t.Errorf("session has %d unspent of %d tokens, want 1 of 2", unspent, total)
		}
		for rt := range seen {
			a.mustRefresh(rt) // and the one child works
		}
	})
}
