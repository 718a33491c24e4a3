package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestTrustedProxiesBadCIDR checks CONTRACT §14 and §2: a bad TRUSTED_PROXIES stops either
// server at start with one line naming the variable.
func TestTrustedProxiesBadCIDR(t *testing.T) {
	t.Parallel()
	for _, p := range []*Proc{
		newAuth(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/40"}),
		newResource(t, map[string]string{"TRUSTED_PROXIES": "proxy.internal", "JWKS_URL": "http://127.0.0.1:9/jwks", "AUTH_ISSUER": "http://127.0.0.1:9"}),
	} {
		res := p.CLI("migrate")
		if res.Code == 0 || !strings.Contains(res.Stderr, "TRUSTED_PROXIES") {
			t.Errorf("%s with a bad TRUSTED_PROXIES: want a refusal naming it, got %s", p.Name, res)
		}
	}
}

// TestTrustedProxiesClientAddress checks CONTRACT §14 on the binaries: behind a trusted proxy
// the session records the forwarded client address; without one, the header is ignored.
func TestTrustedProxiesClientAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, trusted, want string
	}{
		{"trusted", "127.0.0.0/8,::1/128", "198.51.100.7"},
		{"untrusted", "", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := startAuth(t, map[string]string{"TRUSTED_PROXIES": tc.trusted})
			c := newClient(t)
			fwd := header("X-Forwarded-For", "203.0.113.50, 198.51.100.7")
			var tok tokenResponse
			c.PostJSON(auth.URL+"/signup", map[string]string{"username": "proxied", "email": "proxied@example.com", "password": "password1"}, fwd).
				Want(t, http.StatusCreated).JSON(t, &tok)
			var list struct {
				Sessions []struct {
					IP string `json:"ip"`
				} `json:"sessions"`
			}
			c.Get(auth.URL+"/sessions", bearer(tok.AccessToken)).Want(t, http.StatusOK).JSON(t, &list)
			if len(list.Sessions) != 1 || list.Sessions[0].IP != tc.want {
				t.Errorf("sessions %+v, want one with ip %s", list.Sessions, tc.want)
			}
		})
	}
}
