package server_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/httpapi"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// trustLoopback trusts the test servers' peer (the loopback) as a reverse proxy.
func trustLoopback(c *envConfig) {
	c.server.TrustedProxies = httpapi.NewTrustedProxies([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
}

func xff(addr string) []string { return []string{"X-Forwarded-For", addr} }

// Behind a trusted proxy the throttle counts the forwarded client address, not the proxy's:
// one client's failures do not lock out everyone else coming through the same proxy. The
// session's ip and the audit trail record the forwarded address too.
func TestTrustedProxyThrottlesForwardedAddress(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, trustLoopback)
		e.signup("ivan", "ivan@example.com", "password1")
		attacker, other := "198.51.100.66", "2001:db8::7"
		for i := 0; i < 20; i++ {
			r := e.do("POST", "/login", map[string]string{"username": "ghost" + strconv.Itoa(i), "password": "wrong-pass"},
				"X-Forwarded-For", "203.0.113.1, "+attacker+", 127.0.0.2") // a client-written entry, then two hops
			if r.Status != 401 {
				t.Fatalf("failure %d: %d", i, r.Status)
			}
		}
		if r := e.do("POST", "/login", map[string]string{"username": "ivan", "password": "password1"}, xff(attacker)...); r.Status != http.StatusTooManyRequests {
			t.Fatalf("the forwarded address is not throttled: %d", r.Status)
		}
		s := e.newSession("ivan", "password1", xff(other)...)
		var ip any
		for _, row := range e.listSessions(s.at) {
			if row["id"] == s.sid {
				ip = row["ip"]
			}
		}
		if ip != other {
			t.Errorf("session ip = %v, want %s", ip, other)
		}
		events, err := e.store.AuditEvents(context.Background(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.Event == store.AuditLoginFailure && ev.IP != attacker {
				t.Fatalf("audit %s ip = %q, want %s", ev.Event, ev.IP, attacker)
			}
		}
	})
}

// Without trusted proxies, forwarded headers are the client's word and are ignored: rotating
// them does not escape the per-address throttle, and sessions record the peer.
func TestUntrustedForwardedHeadersIgnored(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("judy", "judy@example.com", "password1")
		for i := 0; i < 20; i++ {
			spoof := "198.51.100." + strconv.Itoa(i+1)
			r := e.do("POST", "/login", map[string]string{"username": "ghost" + strconv.Itoa(i), "password": "wrong-pass"},
				"X-Forwarded-For", spoof, "Forwarded", "for="+spoof)
			if r.Status != 401 {
				t.Fatalf("failure %d: %d", i, r.Status)
			}
		}
		if r := e.do("POST", "/login", map[string]string{"username": "judy", "password": "password1"}, xff("203.0.113.9")...); r.Status != http.StatusTooManyRequests {
			t.Fatalf("spoofed X-Forwarded-For escaped the throttle: %d", r.Status)
		}
	})
}

// The peer is recorded when no proxy is trusted, whatever the headers claim.
func TestUntrustedForwardedHeadersNotRecorded(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.signup("kim", "kim@example.com", "password1")
		s := e.newSession("kim", "password1", xff("198.51.100.1")...)
		for _, row := range e.listSessions(s.at) {
			if row["id"] == s.sid && row["ip"] != "127.0.0.1" && row["ip"] != "::1" {
				t.Errorf("session ip = %v, want the peer", row["ip"])
			}
		}
	})
}
