package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Revocation that reaches the resource servers (CONTRACT §10, docs/revocation.md): after every
// kind of session end the old access token is refused by the resource server within 2 s of the
// auth server's answer, while the user's other sessions keep working.

// revocationBound is the contract's bound with both servers up.
const revocationBound = 2 * time.Second

// revokedWithin polls GET path of base with token until it answers 401 invalid_token whose
// description says revoked, and fails the test unless that happens within bound of now
// (the caller's moment: the auth server's answer).
func revokedWithin(t *testing.T, c *Client, base, path, token string, since time.Time, bound time.Duration, what string) time.Duration {
	t.Helper()
	var last *Response
	ok := poll(bound+time.Until(since), func() bool {
		r, err := c.TrySend(http.MethodGet, base+path, nil, bearer(token))
		if err != nil {
			return false
		}
		last = r
		return r.StatusCode == http.StatusUnauthorized && strings.Contains(string(r.Body), "revoked") &&
			strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	})
	took := time.Since(since)
	if !ok {
		status := "no answer"
		if last != nil {
			status = strconv.Itoa(last.StatusCode) + " " + string(last.Body)
		}
		t.Fatalf("%s: the old access token was not refused as revoked within %s (last: %s)", what, bound, status)
	}
	return took
}

// accepted fails the test unless base answers path with token 200.
func accepted(t *testing.T, c *Client, base, path, token, what string) {
	t.Helper()
	if r := c.Get(base+path, bearer(token)); r.StatusCode != http.StatusOK {
		t.Fatalf("%s: a token that should still work got %d %s", what, r.StatusCode, r.Body)
	}
}

func TestRevocationEveryKindOfSessionEnd(t *testing.T) {
	s := startStack(t, StackOptions{Auth: map[string]string{"REFRESH_REUSE_GRACE": "0s"}})
	c := newClient(t)
	rs, auth := s.Resource.URL, s.Auth.URL
	n := 0
	// fresh signs a new user up and logs it in once more: two sessions, each with a live
	// access token the resource server accepts.
	fresh := func() (account, tokenResponse) {
		n++
		a := c.signup(auth, "rev"+strconv.Itoa(n))
		b := c.login(auth, a)
		accepted(t, c, rs, "/whoami", a.Tokens.AccessToken, "before")
		return a, b
	}
	check := func(what string, revoked, kept string, at time.Time) {
		t.Helper()
		took := revokedWithin(t, c, rs, "/whoami", revoked, at, revocationBound, what)
		if kept != "" {
			accepted(t, c, rs, "/whoami", kept, what+": another session")
		}
		t.Logf("%s: refused %s after the auth server's answer", what, took.Round(time.Millisecond))
	}

	a, other := fresh()
	c.PostJSON(auth+"/logout", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusNoContent)
	check("logout", a.Tokens.AccessToken, other.AccessToken, time.Now())

	a, other = fresh()
	c.PostForm(auth+"/revoke", url.Values{"token": {a.Tokens.RefreshToken}, "token_type_hint": {"refresh_token"}}).Want(t, http.StatusOK)
	check("/revoke", a.Tokens.AccessToken, other.AccessToken, time.Now())

	a, other = fresh()
	sid := jwtClaims(t, a.Tokens.AccessToken)["sid"].(string)
	c.Send(http.MethodDelete, auth+"/sessions/"+sid, nil, bearer(other.AccessToken)).Want(t, http.StatusNoContent)
	check("DELETE /sessions/{id}", a.Tokens.AccessToken, other.AccessToken, time.Now())

	a, other = fresh()
	c.PostJSON(auth+"/password", map[string]string{"current_password": a.Password, "new_password": "another horse battery"},
		bearer(other.AccessToken)).Want(t, http.StatusNoContent)
	check("password change (ends the other sessions)", a.Tokens.AccessToken, other.AccessToken, time.Now())

	// Reuse: a spent token presented after its child was spent revokes the session.
	a, other = fresh()
	var r1, r2 tokenResponse
	c.PostJSON(auth+"/refresh", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusOK).JSON(t, &r1)
	c.PostJSON(auth+"/refresh", map[string]string{"refresh_token": r1.RefreshToken}).Want(t, http.StatusOK).JSON(t, &r2)
	c.PostJSON(auth+"/refresh", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusBadRequest)
	check("refresh-token reuse", r2.AccessToken, other.AccessToken, time.Now())

	// A client removed: its sessions end, the first-party ones do not.
	a, other = fresh()
	out := s.Auth.MustCLI("clients", "add", "shop", "--grant", "password", "--grant", "refresh_token").Stdout
	shop := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	if shop == nil {
		t.Fatalf("clients add printed:\n%s", out)
	}
	var viaShop tokenResponse
	c.PostForm(auth+"/token", url.Values{"grant_type": {"password"}, "client_id": {shop[1]}, "username": {a.Username}, "password": {a.Password}}).
		Want(t, http.StatusOK).JSON(t, &viaShop)
	accepted(t, c, rs, "/whoami", viaShop.AccessToken, "the shop's token")
	s.Auth.MustCLI("clients", "remove", shop[1])
	check("client removed (CLI)", viaShop.AccessToken, other.AccessToken, time.Now())

	// An operator's logout of every session, a disabled user, a deleted account: all tokens.
	bystander, _ := fresh()
	a, other = fresh()
	s.Auth.MustCLI("users", "logout", a.Username)
	at := time.Now()
	check("users logout (CLI)", a.Tokens.AccessToken, bystander.Tokens.AccessToken, at)
	check("users logout (CLI)", other.AccessToken, "", at)

	a, other = fresh()
	s.Auth.MustCLI("users", "disable", a.Username)
	at = time.Now()
	check("users disable (CLI)", a.Tokens.AccessToken, bystander.Tokens.AccessToken, at)
	check("users disable (CLI)", other.AccessToken, "", at)

	a, other = fresh()
	body, ct := jsonBody(map[string]string{"password": a.Password})
	c.Send(http.MethodDelete, auth+"/me", body, ct, bearer(a.Tokens.AccessToken)).Want(t, http.StatusNoContent)
	at = time.Now()
	check("account deleted", a.Tokens.AccessToken, bystander.Tokens.AccessToken, at)
	check("account deleted", other.AccessToken, "", at)

	// A role change refuses the tokens issued before it and accepts those issued after,
	// even within the same second.
	a, other = fresh()
	s.Auth.MustCLI("users", "role", "add", a.Username, "editor")
	at = time.Now()
	after := c.login(auth, a)
	check("role change (CLI)", a.Tokens.AccessToken, after.AccessToken, at)
	check("role change (CLI)", other.AccessToken, "", at)
	// The auth server's own Bearer endpoints agree, at once.
	c.Get(auth+"/me", bearer(a.Tokens.AccessToken)).Want(t, http.StatusUnauthorized)
	c.Get(auth+"/me", bearer(after.AccessToken)).Want(t, http.StatusOK)
	if roles := jwtClaims(t, after.AccessToken)["roles"]; len(roles.([]any)) != 1 {
		t.Errorf("the new token's roles = %v, want [editor]", roles)
	}
	var refreshed tokenResponse
	c.PostJSON(auth+"/refresh", map[string]string{"refresh_token": after.RefreshToken}).Want(t, http.StatusOK).JSON(t, &refreshed)
	accepted(t, c, rs, "/whoami", refreshed.AccessToken, "a refresh after the role change")
}

// A resource server that is down during a logout refuses the token within seconds of coming
// back, and still after a restart; the deny-list empties once the tokens have expired.
func TestRevocationSurvivesDowntimeAndRestartThenExpires(t *testing.T) {
	s := startStack(t, StackOptions{
		Auth:     map[string]string{"SYNC_RETRY_BASE": "100ms", "SYNC_RETRY_MAX": "500ms", "ACCESS_TOKEN_TTL": "6s"},
		Resource: map[string]string{"CLOCK_LEEWAY": "0s"},
	})
	c := newClient(t)
	a := c.signup(s.Auth.URL, "downtime")
	other := c.login(s.Auth.URL, a)
	accepted(t, c, s.Resource.URL, "/whoami", a.Tokens.AccessToken, "before")

	s.Resource.Stop()
	c.PostJSON(s.Auth.URL+"/logout", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusNoContent)
	s.Resource.Start()
	back := time.Now()
	took := revokedWithin(t, c, s.Resource.URL, "/whoami", a.Tokens.AccessToken, back, 5*time.Second, "logout while the resource server was down")
	accepted(t, c, s.Resource.URL, "/whoami", other.AccessToken, "the other session")
	t.Logf("refused %s after the resource server came back", took.Round(time.Millisecond))

	s.Resource.Restart()
	if r := c.Get(s.Resource.URL+"/whoami", bearer(a.Tokens.AccessToken)); r.StatusCode != http.StatusUnauthorized || !strings.Contains(string(r.Body), "revoked") {
		t.Fatalf("after a restart: %d %s; want 401 revoked at once (the deny-list is loaded from the app database)", r.StatusCode, r.Body)
	}
	if g := denyListEntries(t, c, s.Resource.URL); g != 1 {
		t.Errorf("resource_deny_list_entries = %v, want 1", g)
	}
	// Expired: the token itself is refused as expired, and its entry goes, from memory and
	// from the app database (a restart loads none).
	if !poll(30*time.Second, func() bool { return denyListEntries(t, c, s.Resource.URL) == 0 }) {
		t.Fatalf("deny-list still holds %v entries after the token expired", denyListEntries(t, c, s.Resource.URL))
	}
	s.Resource.Restart()
	if g := denyListEntries(t, c, s.Resource.URL); g != 0 {
		t.Errorf("after the expiry and a restart the deny-list holds %v entries, want 0", g)
	}
}

// denyListEntries reads resource_deny_list_entries from the resource server's /metrics.
func denyListEntries(t *testing.T, c *Client, base string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^resource_deny_list_entries (\S+)$`).FindSubmatch(c.Get(base + "/metrics").Body)
	if m == nil {
		t.Fatal("no resource_deny_list_entries in /metrics")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Two resource-server replicas on one app database (PostgreSQL): the auth server delivers to
// one, and both refuse the token within 2 s; a third-party service built on the public
// verifier package alone, a second sync target, refuses it too.
func TestRevocationReplicasAndThirdParty(t *testing.T) {
	authEnv, appEnv := pgEnv(t)
	rport, xport := freePort(t), freePort(t)
	authEnv["SYNC_URLS"] = "http://127.0.0.1:" + strconv.Itoa(rport) + "/sync/users,http://127.0.0.1:" + strconv.Itoa(xport) + "/sync"
	auth := startAuth(t, authEnv)
	var replicas []*Proc
	for i, port := range []int{rport, freePort(t)} {
		env := resourceEnvFor(auth)
		env["RESOURCE_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
		env["APP_DATABASE_URL"] = appEnv["APP_DATABASE_URL"]
		p := newResource(t, env)
		p.Name += "#" + strconv.Itoa(i+1)
		p.Start()
		waitStatus(t, p.URL+"/readyz", http.StatusOK, readyTimeout)
		replicas = append(replicas, p)
	}
	third := newProc(t, kindExample, map[string]string{"ADDR": "127.0.0.1:" + strconv.Itoa(xport),
		"AUTH_ISSUER": auth.env["AUTH_ISSUER"], "JWKS_URL": auth.URL + "/.well-known/jwks.json"})
	third.Start()

	c := newClient(t)
	a := c.signup(auth.URL, "replicated")
	other := c.login(auth.URL, a)
	for _, p := range replicas {
		accepted(t, c, p.URL, "/whoami", a.Tokens.AccessToken, p.Name+" before")
	}
	accepted(t, c, third.URL, "/hello", a.Tokens.AccessToken, "the third-party service before")

	c.PostJSON(auth.URL+"/logout", map[string]string{"refresh_token": a.Tokens.RefreshToken}).Want(t, http.StatusNoContent)
	at := time.Now()
	for _, p := range replicas {
		took := revokedWithin(t, c, p.URL, "/whoami", a.Tokens.AccessToken, at, revocationBound, p.Name)
		accepted(t, c, p.URL, "/whoami", other.AccessToken, p.Name+": the other session")
		t.Logf("%s refused it %s after the logout", p.Name, took.Round(time.Millisecond))
	}
	took := revokedWithin(t, c, third.URL, "/hello", a.Tokens.AccessToken, at, revocationBound, "the third-party service")
	accepted(t, c, third.URL, "/hello", other.AccessToken, "the third-party service: the other session")
	t.Logf("the third-party service refused it %s after the logout", took.Round(time.Millisecond))
}
