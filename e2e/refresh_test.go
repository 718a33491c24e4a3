package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jwtauth/jwtauth/db"
)

// TestRefreshRaceAcrossTwoProcesses checks CONTRACT §5 ("two tabs refreshing at once end on
// one token … correct with any number of auth-server replicas on one PostgreSQL and under
// concurrent requests"): 100 refreshes of one token at once, half to each of two replicas,
// half through POST /token (form) and half through POST /refresh (JSON), all answer 200 with
// the same new refresh token, and the session is left with exactly one live token.
func TestRefreshRaceAcrossTwoProcesses(t *testing.T) {
	t.Parallel()
	env := authDBEnv(t, "postgres")
	replicas := startReplicas(t, 2, env)
	c := newClient(t)
	u := c.signup(replicas[0].URL, "racer")
	tr := c.login(replicas[1].URL, u)
	sid := rfSID(t, tr.AccessToken)

	const n = 100
	answers := make([]rfAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = rfRefresh(c, replicas[i%2].URL, tr.RefreshToken, i/2%2 == 0)
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
		if got := rfSID(t, a.tokens.AccessToken); got != sid {
			t.Errorf("refresh %d: access token of session %q, want %q", i, got, sid)
		}
	}
	if len(children) != 1 {
		t.Fatalf("%d distinct refresh tokens from %d concurrent refreshes of one token, want 1: %v", len(children), n, children)
	}
	var child string
	for child = range children {
	}
	if child == tr.RefreshToken {
		t.Fatalf("the refresh answered the presented token itself")
	}
	authDB := syOpen(t, env["AUTH_DATABASE_URL"])
	if live := rfLiveTokens(t, authDB, sid); live != 1 {
		t.Fatalf("session %s has %d unspent refresh tokens after the race, want 1", sid, live)
	}
	// The one live token works, once more rotating the session.
	next := rfRefresh(c, replicas[1].URL, child, false)
	if next.status != http.StatusOK || next.tokens.RefreshToken == child || next.tokens.RefreshToken == "" {
		t.Fatalf("refresh of the race's child: status %d, body %s", next.status, next.body)
	}
	if live := rfLiveTokens(t, authDB, sid); live != 1 {
		t.Errorf("session %s has %d unspent refresh tokens after one more refresh, want 1", sid, live)
	}
}

// TestRefreshReuseRevokesSessionOnly checks CONTRACT §5 (reuse): after REFRESH_REUSE_GRACE,
// presenting a superseded refresh token gets 400 invalid_grant, revokes its whole session (the
// newest token fails too, the session's access token is refused by the auth server) and writes
// one refresh.reuse audit event, and leaves the user's other sessions working.
func TestRefreshReuseRevokesSessionOnly(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			env := authDBEnv(t, backend)
			env["REFRESH_REUSE_GRACE"] = "1s"
			auth := startAuth(t, env)
			c := newClient(t)
			u := c.signup(auth.URL, "reuser")
			other := c.login(auth.URL, u)
			a0 := c.login(auth.URL, u)
			sid := rfSID(t, a0.AccessToken)
			a1 := rfRefresh(c, auth.URL, a0.RefreshToken, false)
			a2 := rfRefresh(c, auth.URL, a1.tokens.RefreshToken, true)
			if a1.status != http.StatusOK || a2.status != http.StatusOK {
				t.Fatalf("two rotations: %d %s, %d %s", a1.status, a1.body, a2.status, a2.body)
			}
			// Within the grace the superseded token replays (200, its own child); once the
			// grace is over it is reuse. Only the first answer other than 200 counts.
			var last rfAnswer
			poll(readyTimeout, func() bool {
				last = rfRefresh(c, auth.URL, a0.RefreshToken, false)
				if last.status == http.StatusOK && last.tokens.RefreshToken != a1.tokens.RefreshToken {
					t.Fatalf("a replay of the first token returned another child")
				}
				return last.status != http.StatusOK
			})
			rfWantInvalidGrant(t, "the superseded token after the grace", last)
			rfWantInvalidGrant(t, "the session's newest token", rfRefresh(c, auth.URL, a2.tokens.RefreshToken, false))
			c.Get(auth.URL+"/me", bearer(a2.tokens.AccessToken)).Want(t, http.StatusUnauthorized)
			rfWantInvalidGrant(t, "the superseded token again", rfRefresh(c, auth.URL, a0.RefreshToken, true))

			if r := rfRefresh(c, auth.URL, other.RefreshToken, false); r.status != http.StatusOK {
				t.Errorf("the user's other session: refresh %d %s, want 200", r.status, r.body)
			}
			c.Get(auth.URL+"/me", bearer(other.AccessToken)).Want(t, http.StatusOK)

			authDB := syOpen(t, rfAuthDBURL(auth, env))
			var n int
			err := authDB.Get(&n, authDB.Rebind(`SELECT count(*) FROM audit_events WHERE event = 'refresh.reuse' AND session_id = ? AND user_id = ?`), sid, u.ID)
			if err != nil || n != 1 {
				t.Errorf("refresh.reuse audit events of the session: %d (%v), want exactly 1", n, err)
			}
		})
	}
}

// TestNoRefreshTokenInTheClearInDB checks CONTRACT §3 ("stored only as a hash"): after
// signups, logins, rotations, a replay and a logout, no text or blob of any table of the auth
// database holds any refresh token handed out, neither as issued nor as the base64 or hex of
// its bytes (raw, or inside a base64 or hex value).
func TestNoRefreshTokenInTheClearInDB(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			env := authDBEnv(t, backend)
			auth := startAuth(t, env)
			tokens := rfIssueTokens(t, newClient(t), auth.URL)
			rows := rfDump(t, syOpen(t, rfAuthDBURL(auth, env)))
			if len(rows) == 0 {
				t.Fatal("the auth database dump is empty")
			}
			for _, tok := range tokens {
				forms := rfForms(t, tok)
				if !rfHolds([]byte(hex.EncodeToString(append(append([]byte("x"), forms[1]...), 'y'))), forms) {
					t.Fatal("the detector misses a hex-encoded token") // the check can fail
				}
				for _, r := range rows {
					if rfHolds(r.value, forms) {
						t.Errorf("%s.%s holds a refresh token (%.8s…) in the clear", r.table, r.column, tok)
					}
				}
			}
		})
	}
}

// rfIssueTokens signs up, logs in, rotates, replays and logs out, and returns every refresh
// token handed out.
func rfIssueTokens(t *testing.T, c *Client, authURL string) []string {
	t.Helper()
	u := c.signup(authURL, "cleartext")
	tokens := []string{u.Tokens.RefreshToken}
	for range 2 {
		tr := c.login(authURL, u)
		tokens = append(tokens, tr.RefreshToken)
		for i := range 3 {
			r := rfRefresh(c, authURL, tr.RefreshToken, i%2 == 0)
			if r.status != http.StatusOK {
				t.Fatalf("refresh: %d %s", r.status, r.body)
			}
			tr = r.tokens
			tokens = append(tokens, tr.RefreshToken)
		}
		replay := rfRefresh(c, authURL, tokens[len(tokens)-2], false) // child unspent: replay
		if replay.status != http.StatusOK || replay.tokens.RefreshToken != tr.RefreshToken {
			t.Fatalf("replay: %d %s", replay.status, replay.body)
		}
	}
	c.PostJSON(authURL+"/logout", map[string]string{"refresh_token": tokens[len(tokens)-1]}).Want(t, http.StatusNoContent)
	return tokens
}

// rfForms are the encodings of a refresh token looked for: the token, its bytes, and their
// hex and base64 (standard and URL, padded and not); the token's own base64 too.
func rfForms(t *testing.T, tok string) [][]byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 32 {
		t.Fatalf("refresh token %.8s…: not base64url of at least 256 bits (%v)", tok, err)
	}
	hx := hex.EncodeToString(raw)
	forms := [][]byte{[]byte(tok), raw, []byte(hx), []byte(strings.ToUpper(hx)), []byte(base64.StdEncoding.EncodeToString([]byte(tok)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
		forms = append(forms, []byte(enc.EncodeToString(raw)))
	}
	return forms
}

// rfHolds reports whether v, or a base64 or hex decoding of it, contains any of forms.
func rfHolds(v []byte, forms [][]byte) bool {
	for _, d := range decodings(v) {
		for _, f := range forms {
			if bytes.Contains(d, f) {
				return true
			}
		}
	}
	return false
}

// rfCell is one non-empty text or blob value of the database.
type rfCell struct {
	table, column string
	value         []byte
}

// rfDump reads every text and blob value of every table.
func rfDump(t *testing.T, d *db.DB) []rfCell {
	t.Helper()
	cols, err := d.Columns(context.Background())
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for _, c := range cols {
		if len(tables) == 0 || tables[len(tables)-1] != c.Table {
			tables = append(tables, c.Table)
		}
	}
	var out []rfCell
	for _, table := range tables {
		rows, err := d.Queryx(fmt.Sprintf(`SELECT * FROM %q`, table))
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for rows.Next() {
			m := map[string]any{}
			if err := rows.MapScan(m); err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			for col, v := range m {
				switch x := v.(type) {
				case string:
					out = append(out, rfCell{table, col, []byte(x)})
				case []byte:
					out = append(out, rfCell{table, col, x})
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		rows.Close()
	}
	return out
}

// rfAnswer is the outcome of one refresh, from any goroutine.
type rfAnswer struct {
	status int
	body   []byte
	tokens tokenResponse
	err    error
}

// rfRefresh spends token through POST /token (form, RFC 6749 §6) or POST /refresh (JSON);
// it is goroutine-safe.
func rfRefresh(c *Client, authURL, token string, form bool) rfAnswer {
	var r *Response
	var err error
	if form {
		body, ct := formBody(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
		r, err = c.TrySend(http.MethodPost, authURL+"/token", body, ct)
	} else {
		body, ct := jsonBody(map[string]string{"refresh_token": token})
		r, err = c.TrySend(http.MethodPost, authURL+"/refresh", body, ct)
	}
	if err != nil {
		return rfAnswer{err: err}
	}
	a := rfAnswer{status: r.StatusCode, body: r.Body}
	if r.StatusCode == http.StatusOK {
		a.err = json.Unmarshal(r.Body, &a.tokens)
	}
	return a
}

// rfWantInvalidGrant fails the test unless a is 400 invalid_grant.
func rfWantInvalidGrant(t *testing.T, what string, a rfAnswer) {
	t.Helper()
	var e struct{ Error string }
	_ = json.Unmarshal(a.body, &e)
	if a.err != nil || a.status != http.StatusBadRequest || e.Error != "invalid_grant" {
		t.Errorf("%s: status %d, err %v, body %s; want 400 invalid_grant", what, a.status, a.err, a.body)
	}
}

// rfSID is the sid claim of an access token.
func rfSID(t testing.TB, access string) string {
	t.Helper()
	sid, _ := jwtClaims(t, access)["sid"].(string)
	if sid == "" {
		t.Fatal("access token without sid")
	}
	return sid
}

// rfLiveTokens counts the unspent refresh tokens of a session.
func rfLiveTokens(t testing.TB, d *db.DB, sid string) int {
	t.Helper()
	var n int
	if err := d.Get(&n, d.Rebind(`SELECT count(*) FROM refresh_tokens WHERE session_id = ? AND spent_at = 0`), sid); err != nil {
		t.Fatalf("count live refresh tokens: %v", err)
	}
	return n
}

// rfAuthDBURL is the auth server's database URL: env's, or its embedded SQLite default.
func rfAuthDBURL(p *Proc, env map[string]string) string {
	if u := env["AUTH_DATABASE_URL"]; u != "" {
		return u
	}
	return "sqlite:" + filepath.Join(p.Dir, "data", "auth.db")
}
