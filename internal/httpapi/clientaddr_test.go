package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/internal/httpapi"
)

func TestClientAddr(t *testing.T) {
	proxies := httpapi.NewTrustedProxies([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	})
	for _, tc := range []struct {
		name    string
		trusted *httpapi.TrustedProxies
		peer    string
		header  []string // name, value pairs (a name may repeat)
		want    string
	}{
		{"no proxies, peer", nil, "203.0.113.5:4000", nil, "203.0.113.5"},
		{"no proxies, spoofed XFF ignored", nil, "203.0.113.5:4000", []string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer, spoofed XFF ignored", proxies, "203.0.113.5:4000", []string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.5"},
		{"untrusted peer, spoofed Forwarded ignored", proxies, "203.0.113.5:4000", []string{"Forwarded", "for=198.51.100.1"}, "203.0.113.5"},
		{"trusted peer without headers", proxies, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"trusted peer, one hop", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"client-sent entries left of the real one ignored", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"multiple trusted hops", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.9.9.9, 10.8.8.8"}, "198.51.100.1"},
		{"hops over several header lines", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "1.1.1.1, 198.51.100.1", "X-Forwarded-For", "10.9.9.9"}, "198.51.100.1"},
		{"all hops trusted: the leftmost", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "10.7.7.7, 10.9.9.9"}, "10.7.7.7"},
		{"garbage stops the walk at the nearest trusted hop", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "198.51.100.1, nonsense, 10.9.9.9"}, "10.9.9.9"},
		{"entry with a port", proxies, "10.1.2.3:4000", []string{"X-Forwarded-For", "198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv6 peer and client", proxies, "[fd00::1]:4000", []string{"X-Forwarded-For", "2001:db8::7"}, "2001:db8::7"},
		{"IPv6 client in brackets with port", proxies, "[fd00::1]:4000", []string{"X-Forwarded-For", "[2001:db8::7]:443"}, "2001:db8::7"},
		{"IPv6 untrusted peer ignored", proxies, "[2001:db8::9]:4000", []string{"X-Forwarded-For", "198.51.100.1"}, "2001:db8::9"},
		{"IPv4-mapped peer counts as IPv4", proxies, "[::ffff:10.1.2.3]:4000", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"Forwarded, one hop", proxies, "10.1.2.3:4000", []string{"Forwarded", "for=198.51.100.1;proto=https"}, "198.51.100.1"},
		{"Forwarded, IPv6 quoted with port, several hops", proxies, "10.1.2.3:4000", []string{"Forwarded", `for=1.1.1.1, for="[2001:db8::7]:4711";proto=https, for=10.9.9.9`}, "2001:db8::7"},
		{"Forwarded, obfuscated stops the walk", proxies, "10.1.2.3:4000", []string{"Forwarded", "for=198.51.100.1, for=_hidden"}, "10.1.2.3"},
		{"X-Forwarded-For wins over Forwarded", proxies, "10.1.2.3:4000", []string{"Forwarded", "for=1.1.1.1", "X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Add(tc.header[i], tc.header[i+1])
			}
			if got := tc.trusted.ClientAddr(r); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// Inside the Middleware, ClientAddr uses the Middleware's TrustedProxies; outside it, the peer.
func TestClientAddrThroughMiddleware(t *testing.T) {
	proxies := httpapi.NewTrustedProxies([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	var got string
	h := httpapi.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = httpapi.ClientAddr(r)
	}), httpapi.Options[struct{}]{TrustedProxies: proxies})
	r := httptest.NewRequest(http.MethodGet, "/", nil) // RemoteAddr 192.0.2.1:1234
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "198.51.100.1" {
		t.Errorf("inside the middleware: %q", got)
	}
	if got := httpapi.ClientAddr(r); got != "192.0.2.1" {
		t.Errorf("outside the middleware: %q", got)
	}
}

// The access log line names the client the trusted proxies forward.
func TestAccessLogClientAddr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	proxies := httpapi.NewTrustedProxies([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	h := httpapi.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		httpapi.Options[struct{}]{Logger: log, TrustedProxies: proxies})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-For", "2001:db8::5")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(buf.String(), `"client_ip":"2001:db8::5"`) {
		t.Errorf("access line %s, want client_ip 2001:db8::5", buf.String())
	}
}
