package bench

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The authorization code flow (issue 16): the whole flow against the password grant, both
// bound by argon2id, and /authorize with a live login cookie against a bare handler that
// signs one token.

// The bench's PKCE pair, and the cookies of the hosted pages (the bench's issuer is https, so
// they are __Host- prefixed).
const (
	benchVerifier = "bench-verifier-bench-verifier-bench-verifier-0123456789"
	csrfCookie    = "__Host-csrf"
	sessionCookie = "__Host-session"
	benchCSRF     = "bench-csrf-token-bench-csrf-token" // double submit: the same in cookie and form
	benchRedirect = "https://app.bench.invalid/callback"
)

func benchChallenge() string {
	sum := sha256.Sum256([]byte(benchVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// oauthPhase runs the code-flow rows on every CPU, like the other argon2id-bound rows.
func (h *harness) oauthPhase(st storeCfg) error {
	dead, err := FreePort()
	if err != nil {
		return err
	}
	sync := "http://" + dead + "/sync/users"
	auth, err := h.startAuth(st, h.all, sync)
	if err != nil {
		return err
	}
	defer auth.Stop()
	out, err := h.cli(st, sync, "", "clients", "add", "bench-spa", "--grant", "authorization_code", "--redirect-uri", benchRedirect)
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("clients add printed %q", out)
	}
	clientID := m[1]
	users := make([]string, concHTTP)
	if err := parallel(len(users), 4, func(i int) error {
		c := NewConn(auth.Addr)
		defer c.Close()
		users[i] = fmt.Sprintf("oauth%d", i)
		_, err := call(c, auth.Addr, "/signup", signupBody(users[i]), 201)
		return err
	}); err != nil {
		return err
	}
	authorize := "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {benchRedirect},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {benchChallenge()}, "code_challenge_method": {"S256"}}.Encode()

	password := &ceiling{name: "password grant (POST /login), the same users|password grant", short: "password grant",
		where: cpuLabel(h.all), unit: "req/s", conc: concHTTP,
		run: func(d time.Duration) (Result, error) {
			return h.runFor(scenario{conc: concHTTP, worker: h.loginWorker(auth.Addr, users)}, d)
		}}
	h.measure(scenario{store: st.Name, name: "code flow: GET /authorize → POST /ui/login → POST /token (authorization_code)", conc: concHTTP,
		proc: auth, worker: h.codeFlowWorker(auth.Addr, authorize, clientID, users), dur: *hashDur}, password, atLeast(0.85))

	// /authorize with a live login cookie: one login per worker, then codes without a form.
	sum := sha256.Sum256([]byte("bench-secret"))
	ceil, err := h.serverCeiling(CeilingSign, "bare client_credentials handler (secret check, go-jose ES256)|bare sign",
		[]string{"BENCH_CLIENT_ID=bench", "BENCH_SECRET_HASH=" + hex.EncodeToString(sum[:]), "BENCH_ISSUER=" + issuer, "BENCH_AUDIENCE=" + audience},
		func(addr string) func(int) (Op, error) { return signWorker(h, addr, "bench", "bench-secret") })
	if err != nil {
		return err
	}
	defer ceil.proc.Stop()
	sessions, err := loginCookies(auth.Addr, authorize, users)
	if err != nil {
		return err
	}
	h.measure(scenario{store: st.Name, name: "GET /authorize with a live login cookie (a code, no form)", conc: concHTTP,
		proc: auth, worker: h.authorizeWorker(auth.Addr, authorize, sessions)}, ceil, atLeast(0.6))
	return nil
}

// signWorker posts client_credentials with Basic id:secret.
func signWorker(h *harness, addr, id, secret string) func(int) (Op, error) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	return func(int) (Op, error) {
		c := h.conn(addr)
		raw := Render(addr, "POST", "/token", []byte("grant_type=client_credentials"),
			"Content-Type", "application/x-www-form-urlencoded", "Authorization", basic)
		return func() error {
			r, err := c.Do(raw)
			return expect(r, err, 200)
		}, nil
	}
}

// loginForm is the hosted login page's form for user, the authorization request carried.
func loginForm(authorize, user string) []byte {
	q, _ := url.ParseQuery(strings.TrimPrefix(authorize, "/authorize?"))
	q.Set("csrf", benchCSRF)
	q.Set("username", user)
	q.Set("password", benchPassword)
	return []byte(q.Encode())
}

// codeOf returns the code of a 302 to the bench's redirect URI.
func codeOf(r Response, err error) (string, error) {
	if err := expect(r, err, 302); err != nil {
		return "", err
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil || u.Query().Get("code") == "" {
		return "", fmt.Errorf("redirect %q has no code", r.Header.Get("Location"))
	}
	return u.Query().Get("code"), nil
}

// codeFlowWorker runs the whole flow as a browser and its app would: the login page, the
// form posted, the code redeemed with its verifier.
func (h *harness) codeFlowWorker(addr, authorize, clientID string, users []string) func(int) (Op, error) {
	return func(i int) (Op, error) {
		c := h.conn(addr)
		cookie := csrfCookie + "=" + benchCSRF
		page := Render(addr, "GET", authorize, nil, "Cookie", cookie)
		login := Render(addr, "POST", "/ui/login", loginForm(authorize, users[i%len(users)]),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie)
		return func() error {
			if r, err := c.Do(page); expect(r, err, 200) != nil {
				return fmt.Errorf("login page: %w", expect(r, err, 200))
			}
			code, err := codeOf(c.Do(login))
			if err != nil {
				return fmt.Errorf("login form: %w", err)
			}
			body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {benchRedirect},
				"client_id": {clientID}, "code_verifier": {benchVerifier}}.Encode()
			r, err := c.Do(Render(addr, "POST", "/token", []byte(body), "Content-Type", "application/x-www-form-urlencoded"))
			return expect(r, err, 200)
		}, nil
	}
}

// loginCookies logs each of users in once through the form and returns their login cookies.
func loginCookies(addr, authorize string, users []string) ([]string, error) {
	out := make([]string, len(users))
	err := parallel(len(users), 4, func(i int) error {
		c := NewConn(addr)
		defer c.Close()
		r, err := c.Do(Render(addr, "POST", "/ui/login", loginForm(authorize, users[i]),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", csrfCookie+"="+benchCSRF))
		if _, err := codeOf(r, err); err != nil {
			return fmt.Errorf("login form: %w", err)
		}
		for _, sc := range r.Header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(sc, sessionCookie+"="); ok {
				out[i], _, _ = strings.Cut(v, ";")
			}
		}
		if out[i] == "" {
			return fmt.Errorf("the login set no %s cookie", sessionCookie)
		}
		return nil
	})
	return out, err
}

// authorizeWorker asks /authorize for codes with a login cookie of sessions.
func (h *harness) authorizeWorker(addr, authorize string, sessions []string) func(int) (Op, error) {
	return func(i int) (Op, error) {
		c := h.conn(addr)
		raw := Render(addr, "GET", authorize, nil, "Cookie", sessionCookie+"="+sessions[i%len(sessions)])
		return func() error {
			_, err := codeOf(c.Do(raw))
			return err
		}, nil
	}
}
