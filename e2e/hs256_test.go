package e2e

import (
	"net/http"
	"testing"
	"time"
)

// legacyWindow is how long after the resource server's switch to ES256 it still accepts
// HS256 tokens (LEGACY_HS256_UNTIL): long enough for a restart of a race-built binary on a
// busy machine, short enough to wait for.
const legacyWindow = 12 * time.Second

// TestHS256MoveWithRealBinaries follows docs/resource-server.md "Moving off HS256" on the real
// binaries (CONTRACT §2, §3): an auth server on HS256 (SECRET_KEY) issues tokens that a
// resource server on HS256 accepts and that are not ES256; the auth server restarts on ES256
// with the same database, then the resource server on ES256 with SECRET_KEY and
// LEGACY_HS256_UNTIL. The old HS256 tokens (one already verified, one never presented) keep
// working until LEGACY_HS256_UNTIL and no longer after, without a restart; HS256 tokens of
// another secret never work; new ES256 tokens, and the ES256 token of a refresh of the
// HS256-era session, work throughout.
func TestHS256MoveWithRealBinaries(t *testing.T) {
	t.Parallel()
	st := startStack(t, StackOptions{Auth: map[string]string{"ALGORITHM": "HS256", "SECRET_KEY": testSecret}})
	c := newClient(t)
	user := c.signup(st.Auth.URL, "mover")
	seen, unseen := user.Tokens.AccessToken, c.login(st.Auth.URL, user).AccessToken
	if alg := jwtHeader(t, seen)["alg"]; alg != "HS256" {
		t.Fatalf("HS256 mode issued a token with alg %v", alg)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(seen)).Want(t, http.StatusOK)
	c.Get(st.Resource.URL+"/me", bearer(seen)).Want(t, http.StatusOK)

	// The auth server moves first here, so that the resource server starts with the ES256
	// keys published. (In the runbook's order, resource servers first, an ES256 token that
	// arrives less than 30 s after the resource server's last JWKS fetch waits for the next
	// refresh: the unknown-kid refresh is rate-limited.)
	st.Auth.env["ALGORITHM"] = "ES256"
	delete(st.Auth.env, "SECRET_KEY")
	st.Auth.Restart()
	es := c.login(st.Auth.URL, user).AccessToken
	if alg := jwtHeader(t, es)["alg"]; alg != "ES256" {
		t.Fatalf("after the switch the auth server issued alg %v, want ES256", alg)
	}
	wantInvalidToken(t, c.Get(st.Resource.URL+"/whoami", bearer(es))) // HS256 resource server: ES256 is not configured

	until := time.Now().Add(legacyWindow).Truncate(time.Second).Add(time.Second)
	st.Resource.env["ALGORITHM"] = "ES256"
	st.Resource.env["LEGACY_HS256_UNTIL"] = until.Format(time.RFC3339)
	st.Resource.Restart()
	waitStatus(t, st.Resource.URL+"/readyz", http.StatusOK, readyTimeout)
	var refreshed tokenResponse
	c.PostJSON(st.Auth.URL+"/refresh", map[string]string{"refresh_token": user.Tokens.RefreshToken}).
		Want(t, http.StatusOK).JSON(t, &refreshed)
	if alg := jwtHeader(t, refreshed.AccessToken)["alg"]; alg != "ES256" {
		t.Errorf("a refresh of the HS256-era session gave alg %v, want ES256", alg)
	}
	if left := time.Until(until); left < 2*time.Second {
		t.Fatalf("the resource server took too long to restart: %s of the %s window left", left, legacyWindow)
	}
	c.Get(st.Resource.URL+"/whoami", bearer(seen)).Want(t, http.StatusOK)
	c.Get(st.Resource.URL+"/me", bearer(seen)).Want(t, http.StatusOK)
	forged := mint(t, hmacKey([]byte("not-the-secret-but-at-least-32-bytes-long"), ""), accessClaims(st.Auth, time.Now()), nil)
	wantInvalidToken(t, c.Get(st.Resource.URL+"/whoami", bearer(forged)))

	waitLegacyEnd(t, c, st.Resource, until, seen, []string{es, refreshed.AccessToken})
	wantInvalidToken(t, c.Get(st.Resource.URL+"/whoami", bearer(seen)))
	wantInvalidToken(t, c.Get(st.Resource.URL+"/me", bearer(unseen)))
	c.Get(st.Resource.URL+"/whoami", bearer(es)).Want(t, http.StatusOK)
	c.Get(st.Resource.URL+"/me", bearer(refreshed.AccessToken)).Want(t, http.StatusOK)
}

// waitLegacyEnd presents the HS256 token hs at res until it is refused, which must not happen
// before until, nor later than 15 s after; a request sent after until must not be accepted.
// Each round the ES256 tokens es must be accepted.
func waitLegacyEnd(t *testing.T, c *Client, res *Proc, until time.Time, hs string, es []string) {
	t.Helper()
	ended := poll(time.Until(until)+15*time.Second, func() bool {
		for _, tok := range es {
			if r := c.Get(res.URL+"/whoami", bearer(tok)); r.StatusCode != http.StatusOK {
				t.Errorf("an ES256 token got %d during the move: %s", r.StatusCode, r.Body)
			}
		}
		sent := time.Now()
		r := c.Get(res.URL+"/whoami", bearer(hs))
		answered := time.Now()
		switch {
		case r.StatusCode == http.StatusOK && !sent.Before(until):
			t.Errorf("an HS256 token was accepted at %s, after LEGACY_HS256_UNTIL %s",
				sent.Format(time.RFC3339Nano), until.Format(time.RFC3339))
		case r.StatusCode != http.StatusOK && answered.Before(until):
			t.Errorf("an HS256 token was refused (%d) at %s, before LEGACY_HS256_UNTIL %s",
				r.StatusCode, answered.Format(time.RFC3339Nano), until.Format(time.RFC3339))
		}
		return r.StatusCode != http.StatusOK
	})
	if !ended {
		t.Fatalf("HS256 tokens still accepted 15 s after LEGACY_HS256_UNTIL %s", until.Format(time.RFC3339))
	}
}
