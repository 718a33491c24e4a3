package deploy_test

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeNetworks is the networks: part of docker-compose.yml.
type composeNetworks struct {
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

// caddySite is one site block of the Caddyfile: its address and its directives.
type caddySite struct {
	addr string
	body string
}

var caddyBlock = regexp.MustCompile(`(?m)^(\S[^{\n]*?)\s*\{\n((?:[^}]|\n)*?)^\}`)

// caddySites parses the top-level site blocks of a Caddyfile (not the global options block).
func caddySites(src string) []caddySite {
	var out []caddySite
	for _, m := range caddyBlock.FindAllStringSubmatch(src, -1) {
		out = append(out, caddySite{addr: strings.TrimSpace(m[1]), body: m[2]})
	}
	return out
}

// TestComposeProxy checks CONTRACT §14's production-like path: an official Caddy image
// terminates TLS in front of both servers (the only published ports), proxying to each
// server's service on its listen port, and both servers trust forwarded addresses from the
// project network's fixed subnet, and from nowhere else.
func TestComposeProxy(t *testing.T) {
	c := loadCompose(t)
	p := c.service(t, "proxy")
	if !strings.HasPrefix(p.Image, "caddy:2") {
		t.Errorf("proxy image = %q, want the official caddy:2", p.Image)
	}
	for _, want := range []string{"443:443", "8443:8443"} {
		if !slices.Contains(p.Ports, want) {
			t.Errorf("proxy ports = %v, want %s", p.Ports, want)
		}
	}
	if !slices.Contains(p.Volumes, "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro") {
		t.Errorf("proxy volumes = %v, want deploy/Caddyfile mounted read-only at /etc/caddy/Caddyfile", p.Volumes)
	}
	for _, srv := range servers {
		if p.DependsOn[srv.service].Condition != "service_healthy" {
			t.Errorf("proxy does not wait for %s to be healthy", srv.service)
		}
	}

	sites := caddySites(readFile(t, "deploy/Caddyfile"))
	wantSite := map[string]string{"": servers[0].service, "8443": servers[1].service} // port of the site → server
	if len(sites) != len(wantSite) {
		t.Fatalf("deploy/Caddyfile has %d sites, want %d: %+v", len(sites), len(wantSite), sites)
	}
	for _, site := range sites {
		_, port, _ := strings.Cut(strings.TrimPrefix(site.addr, "{$SITE_HOST:localhost}"), ":")
		svc, ok := wantSite[port]
		if !ok {
			t.Errorf("site %q: want {$SITE_HOST:localhost} or {$SITE_HOST:localhost}:8443", site.addr)
			continue
		}
		if !strings.Contains(site.body, "tls internal") {
			t.Errorf("site %q does not use tls internal", site.addr)
		}
		srv := servers[slices.IndexFunc(servers, func(s server) bool { return s.service == svc })]
		lp, err := listenPort(stringDefault(t, srv, srv.addrVar))
		if err != nil {
			t.Fatal(err)
		}
		if want := "reverse_proxy " + svc + ":" + strconv.Itoa(lp); !strings.Contains(site.body, want) {
			t.Errorf("site %q: want %q", site.addr, want)
		}
	}

	var n composeNetworks
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.yml")), &n); err != nil {
		t.Fatal(err)
	}
	cfg := n.Networks["default"].IPAM.Config
	if len(cfg) != 1 {
		t.Fatalf("the default network needs one fixed subnet, has %+v", cfg)
	}
	subnet, err := netip.ParsePrefix(cfg[0].Subnet)
	if err != nil {
		t.Fatalf("subnet %q: %v", cfg[0].Subnet, err)
	}
	for _, srv := range servers {
		env := effectiveEnv(t, c, srv)
		if got := env["TRUSTED_PROXIES"]; got != subnet.String() {
			t.Errorf("%s: TRUSTED_PROXIES = %q, want the network's subnet %s", srv.service, got, subnet)
		}
		if iss := env["AUTH_ISSUER"]; !strings.HasPrefix(iss, "https://") {
			t.Errorf("%s: AUTH_ISSUER = %q, want the proxy's https:// address", srv.service, iss)
		}
	}
}
