package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of reverse proxies (TRUSTED_PROXIES) whose forwarded headers say
// who the client is. The zero value and nil trust nobody: the client is the TCP peer.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// NewTrustedProxies returns the set of the given networks; none trusts nobody.
func NewTrustedProxies(prefixes []netip.Prefix) *TrustedProxies {
	ps := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		ps = append(ps, p.Masked())
	}
	return &TrustedProxies{prefixes: ps}
}

// Trusts reports whether a is in one of the trusted networks (an IPv4-mapped IPv6 address
// counts as its IPv4 address).
func (t *TrustedProxies) Trusts(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the client address of r. When the TCP peer is not a trusted proxy, it is the
// peer, and X-Forwarded-For and Forwarded are ignored (anyone can send them). When it is, the
// client is the rightmost X-Forwarded-For entry (all of the header's lines, in order) that is
// not itself a trusted proxy; without X-Forwarded-For, the same walk over the Forwarded
// header's for= parameters (RFC 7239). An entry that is not an address (garbage, "unknown",
// an obfuscated identifier) stops the walk: the client is then the nearest trusted hop, since
// nothing to its left can be believed. When every entry is trusted, it is the leftmost.
func (t *TrustedProxies) ClientAddr(r *http.Request) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return peerHost(r.RemoteAddr)
	}
	if t == nil || len(t.prefixes) == 0 || !t.Trusts(peer) {
		return peer.String()
	}
	var hops []string
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			hops = append(hops, strings.Split(line, ",")...)
		}
	} else if fw := r.Header.Values("Forwarded"); len(fw) > 0 {
		hops = forwardedFor(fw)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHost(hops[i])
		if !ok {
			break
		}
		client = a
		if !t.Trusts(a) {
			break
		}
	}
	return client.String()
}

// forwardedFor returns the for= values of the Forwarded header lines, in order (RFC 7239 §4:
// elements separated by commas, pairs by semicolons, values maybe quoted). A quoted comma or
// semicolon is not expected in an address, so a plain split is enough; a value it mangles
// does not parse and stops the walk.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, strings.Trim(v, `"`))
				}
			}
		}
	}
	return out
}

// parseHost parses an address as forwarded headers and RemoteAddr carry it: "1.2.3.4",
// "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80", with spaces around.
// A zone is dropped; an IPv4-mapped IPv6 address becomes IPv4.
func parseHost(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// peerHost is the host of a RemoteAddr that is not an IP address and port (a test's or a
// Unix socket's), or the whole of it.
func peerHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// ClientAddr is the client address of r as the Middleware's TrustedProxies see it; outside
// the Middleware, the TCP peer.
func ClientAddr(r *http.Request) string {
	if rq, ok := r.Context().Value(ctxKey{}).(interface{ proxies() *TrustedProxies }); ok {
		return rq.proxies().ClientAddr(r)
	}
	return (*TrustedProxies)(nil).ClientAddr(r)
}
