package deploy_test

import (
	"net/url"
	"strings"
	"testing"
)

// pointsAt checks that raw is an http URL of Compose service target on its listen port, with
// a path the target registers in its routes.go (want, when given, must equal the path).
func pointsAt(t *testing.T, name, raw string, c composeFile, target server, want string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		t.Errorf("%s = %q: want an http:// URL", name, raw)
		return
	}
	if _, ok := c.Services[u.Hostname()]; !ok || u.Hostname() != target.service {
		t.Errorf("%s = %q: host must be the Compose service %s", name, raw, target.service)
	}
	port, err := listenPort(stringDefault(t, target, target.addrVar))
	if err != nil {
		t.Fatal(err)
	}
	if urlPort(u) != port {
		t.Errorf("%s = %q: port must be %d, where %s listens", name, raw, port, target.service)
	}
	if !routes(t, target)[u.Path] {
		t.Errorf("%s = %q: path %q is not a route of %s", name, raw, u.Path, target.service)
	}
	if want != "" && u.Path != want {
		t.Errorf("%s = %q: path %q, want %s", name, raw, u.Path, want)
	}
}

func TestWiringSync(t *testing.T) {
	c := loadCompose(t)
	auth, res := servers[0], servers[1]
	env := effectiveEnv(t, c, auth)
	targets := env["SYNC_URLS"]
	name := "SYNC_URLS"
	if targets == "" {
		targets, name = env["APP_SERVICE_HOST"], "APP_SERVICE_HOST"
	}
	if targets == "" {
		t.Fatal("the auth server's SYNC_URLS is not set: its default names localhost, not the resource server")
	}
	for _, raw := range strings.Split(targets, ",") {
		pointsAt(t, name, strings.TrimSpace(raw), c, res, "")
	}
	_, all := envExample(t, auth.envExample)
	for _, n := range []string{"SYNC_URLS", "APP_SERVICE_HOST"} {
		if v, ok := all[n]; ok && v != "" {
			pointsAt(t, auth.envExample+": "+n, v, c, res, "")
		}
	}
}

func TestWiringJWKS(t *testing.T) {
	c := loadCompose(t)
	auth, res := servers[0], servers[1]
	env := effectiveEnv(t, c, res)
	if env["JWKS_URL"] == "" {
		if strings.ToUpper(env["ALGORITHM"]) == "HS256" {
			return // verifies with SECRET_KEY, fetches no keys
		}
		t.Fatal("the resource server's JWKS_URL is not set: its default follows the public AUTH_ISSUER, not the auth server's service")
	}
	pointsAt(t, "JWKS_URL", env["JWKS_URL"], c, auth, "/.well-known/jwks.json")
}

func TestWiringDatabases(t *testing.T) {
	c := loadCompose(t)
	for i, d := range databases {
		srv := servers[i]
		if srv.service != d.user {
			t.Fatalf("databases[%d] is used by %s, servers[%d] is %s", i, d.user, i, srv.service)
		}
		t.Run(d.service, func(t *testing.T) {
			env := effectiveEnv(t, c, srv)
			_, all := envExample(t, srv.envExample)
			if h := env[d.prefix+"_HOST"]; h != d.service {
				t.Errorf("%s_HOST = %q, want the Compose service %s", d.prefix, h, d.service)
			}
			if p := env[d.prefix+"_PORT"]; p != "" && p != "5432" {
				t.Errorf("%s_PORT = %q, want 5432", d.prefix, p)
			}
			for _, raw := range []string{env[d.prefix+"_DATABASE_URL"], all[d.prefix+"_DATABASE_URL"]} {
				if u, err := url.Parse(raw); raw != "" && (err != nil || u.Hostname() != d.service) {
					t.Errorf("%s_DATABASE_URL = %q: host must be the Compose service %s", d.prefix, raw, d.service)
				}
			}
			pg, _ := envExample(t, d.envExample)
			pairs := map[string]string{"_USER": "POSTGRES_USER", "_PWD": "POSTGRES_PASSWORD", "_DB": "POSTGRES_DB"}
			for suffix, pgName := range pairs {
				if got, want := env[d.prefix+suffix], pg[pgName]; got != want {
					t.Errorf("%s%s = %q in %s, but %s = %q in %s", d.prefix, suffix, got, srv.envExample, pgName, want, d.envExample)
				}
			}
		})
	}
}

func TestWiringShared(t *testing.T) {
	// What both servers must agree on: the issuer and audience the tokens carry, and the
	// algorithm they are signed with.
	c := loadCompose(t)
	auth := effectiveEnv(t, c, servers[0])
	res := effectiveEnv(t, c, servers[1])
	for _, name := range []string{"AUTH_ISSUER", "AUTH_AUDIENCE", "ALGORITHM"} {
		if auth[name] != res[name] {
			t.Errorf("%s: auth-server has %q, resource-server %q", name, auth[name], res[name])
		}
	}
	if auth["AUTH_ISSUER"] == "" {
		t.Error("AUTH_ISSUER is not set in docker-compose.yml")
	}
	if _, ok := auth["KEY_ENCRYPTION_KEY"]; !ok && strings.ToUpper(auth["ALGORITHM"]) != "HS256" {
		t.Errorf("%s must show KEY_ENCRYPTION_KEY: it is required with PostgreSQL and an asymmetric ALGORITHM", servers[0].envExample)
	}
	if !strings.Contains(readFile(t, servers[0].envExample), "openssl rand -hex 32") {
		t.Errorf("%s must say how to make a KEY_ENCRYPTION_KEY (openssl rand -hex 32)", servers[0].envExample)
	}
}
