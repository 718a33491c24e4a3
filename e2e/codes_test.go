package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/jwtauth/jwtauth/internal/testdb"
)

// otherSecret is a SECRET_KEY the replicas do not share.
const otherSecret = "another-shared-secret-of-at-least-32-bytes"

// TestCodeAcrossReplicas: a code is sealed, not stored, when issued, so the replicas must
// share its key. On two replicas of one PostgreSQL database, with KEY_ENCRYPTION_KEY (RS256)
// and without one (HS256, whose codes are keyed from SECRET_KEY): a code issued by one replica
// is exchanged at the other, the code again at the first is invalid_grant and ends the session
// its exchange started, and a code of a replica with another SECRET_KEY is invalid_grant
// (while the replica that issued it accepts it).
func TestCodeAcrossReplicas(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"KEY_ENCRYPTION_KEY": {"ALGORITHM": "RS256"},
		"SECRET_KEY":         {"ALGORITHM": "HS256", "SECRET_KEY": testSecret, "KEY_ENCRYPTION_KEY": ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env["AUTH_DATABASE_URL"] = testdb.PostgresURL(t)
			replicas := startReplicas(t, 2, env)
			a, b := replicas[0], replicas[1]
			c := newClient(t)
			user := c.signup(a.URL, "replicauser")
			const redirect = "http://127.0.0.1:9/cb"
			clientID := addClient(t, a, "Two replicas", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", redirect)
			conf := func(authorize, token string) oauth2.Config {
				return oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"profile"},
					Endpoint: oauth2.Endpoint{AuthURL: authorize + "/authorize", TokenURL: token + "/token", AuthStyle: oauth2.AuthStyleInParams}}
			}
			ctx := context.Background()
			ab, ba := conf(a.URL, b.URL), conf(b.URL, a.URL)

			ver := oauth2.GenerateVerifier()
			br := newBrowser(t)
			_, page := br.get(ab.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(ver)))
			code := br.loginThroughPage(a.URL, page, user).Query().Get("code")
			tok, err := ab.Exchange(ctx, code, oauth2.VerifierOption(ver))
			if err != nil {
				t.Fatalf("a code of %s exchanged at %s: %v", a.Name, b.Name, err)
			}
			c.Get(b.URL+"/me", bearer(tok.AccessToken)).Want(t, http.StatusOK)

			// The same browser's next code comes from the other replica, through the login cookie.
			ver2 := oauth2.GenerateVerifier()
			resp, _ := br.get(ba.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(ver2)))
			loc, _ := url.Parse(resp.Header.Get("Location"))
			code2 := loc.Query().Get("code")
			if resp.StatusCode != http.StatusFound || code2 == "" {
				t.Fatalf("GET /authorize at %s with the login cookie: %d, want a code", b.Name, resp.StatusCode)
			}
			if _, err := ba.Exchange(ctx, code2, oauth2.VerifierOption(ver2)); err != nil {
				t.Fatalf("a code of %s exchanged at %s: %v", b.Name, a.Name, err)
			}

			// The first code again, at the replica that issued it.
			aa := conf(a.URL, a.URL)
			_, err = aa.Exchange(ctx, code, oauth2.VerifierOption(ver))
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Fatalf("the code again: %v, want invalid_grant", err)
			}
			c.Get(b.URL+"/me", bearer(tok.AccessToken)).Want(t, http.StatusUnauthorized) // its session ended

			if name != "SECRET_KEY" {
				return // a replica with another KEY_ENCRYPTION_KEY cannot open the keys at all
			}
			// A replica of the same database with another SECRET_KEY: its code names a client,
			// user and redirect URI the others know, and they refuse it.
			e := map[string]string{"AUTH_ISSUER": a.env["AUTH_ISSUER"], "SECRET_KEY": otherSecret}
			for k, v := range env {
				if k != "SECRET_KEY" {
					e[k] = v
				}
			}
			other := startAuth(t, e)
			ver3 := oauth2.GenerateVerifier()
			oc := conf(other.URL, a.URL)
			br3 := newBrowser(t)
			_, page = br3.get(oc.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(ver3)))
			foreign := br3.loginThroughPage(other.URL, page, user).Query().Get("code")
			if _, err := oc.Exchange(ctx, foreign, oauth2.VerifierOption(ver3)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Errorf("a code of another SECRET_KEY: %v, want invalid_grant", err)
			}
			same := conf(other.URL, other.URL)
			if _, err := same.Exchange(ctx, foreign, oauth2.VerifierOption(ver3)); err != nil {
				t.Errorf("the same code at the replica that issued it: %v", err)
			}
		})
	}
}
