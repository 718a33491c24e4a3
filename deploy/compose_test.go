package deploy_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// databases are the two PostgreSQL services, named as in the Python system, with the server
// that uses each and the seed variable prefix of its connection settings.
var databases = []struct {
	service, envExample, user, prefix string
}{
	{service: "auth_db", envExample: "deploy/auth_db.env.example", user: "auth-server", prefix: "AUTH"},
	{service: "app_db", envExample: "deploy/app_db.env.example", user: "resource-server", prefix: "APP"},
}

// postgresVars are the variables of the official postgres image the env examples may set.
var postgresVars = map[string]bool{"POSTGRES_USER": true, "POSTGRES_PASSWORD": true, "POSTGRES_DB": true,
	"POSTGRES_INITDB_ARGS": true, "PGDATA": true}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	slices.Sort(got)
	want := []string{"app_db", "auth-server", "auth_db", "proxy", "resource-server"}
	if !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
}

func TestComposeDatabases(t *testing.T) {
	c := loadCompose(t)
	for _, d := range databases {
		t.Run(d.service, func(t *testing.T) {
			s := c.service(t, d.service)
			if !strings.HasPrefix(s.Image, "postgres:17") {
				t.Errorf("image = %q, want postgres:17", s.Image)
			}
			if len(s.Ports) > 0 {
				t.Errorf("ports = %v: a database must not be published on the host", s.Ports)
			}
			if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "pg_isready") {
				t.Errorf("healthcheck must run pg_isready")
			}
			named := false
			for _, v := range s.Volumes {
				src, dst, _ := strings.Cut(v, ":")
				_, declared := c.Volumes[src]
				named = named || (declared && strings.HasPrefix(dst, "/var/lib/postgresql/data"))
			}
			if !named {
				t.Errorf("volumes = %v: want a named volume (declared under volumes:) on /var/lib/postgresql/data", s.Volumes)
			}
			checkEnvFile(t, s, d.envExample)
			set, all := envExample(t, d.envExample)
			for name := range all {
				if !postgresVars[name] {
					t.Errorf("%s: %s is not a variable of the postgres image", d.envExample, name)
				}
			}
			for _, name := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
				if _, ok := set[name]; !ok {
					t.Errorf("%s does not set %s", d.envExample, name)
				}
			}
		})
	}
}

// checkEnvFile checks that service s reads exactly one env file, whose example exists.
func checkEnvFile(t *testing.T, s composeService, example string) {
	t.Helper()
	want := strings.TrimSuffix(example, ".example")
	if len(s.EnvFile) != 1 || s.EnvFile[0] != want {
		t.Errorf("env_file = %v, want [%s] (made from %s)", s.EnvFile, want, example)
	}
}

func TestComposeServers(t *testing.T) {
	c := loadCompose(t)
	for _, srv := range servers {
		t.Run(srv.service, func(t *testing.T) {
			s := c.service(t, srv.service)
			port, err := listenPort(stringDefault(t, srv, srv.addrVar))
			if err != nil {
				t.Fatal(err)
			}
			if addr, ok := s.Environment[srv.addrVar]; ok {
				if p, err := listenPort(addr); err != nil || p != port {
					t.Errorf("%s = %q in compose, want port %d (the default)", srv.addrVar, addr, port)
				}
			}
			if len(s.Ports) > 0 {
				t.Errorf("ports = %v: the servers are reached through the proxy only (TestComposeProxy)", s.Ports)
			}
			if s.Build == nil || s.Build.Context != "." || s.Build.Dockerfile != srv.pkg+"/Dockerfile" {
				t.Errorf("build = %+v, want context . and dockerfile %s/Dockerfile", s.Build, srv.pkg)
			}
			checkEnvFile(t, s, srv.envExample)
			checkHealthcheck(t, srv, s, port)
		})
	}
}

// checkHealthcheck checks that the healthcheck fetches /healthz or /readyz of the server itself.
func checkHealthcheck(t *testing.T, srv server, s composeService, port int) {
	t.Helper()
	if s.Healthcheck == nil {
		t.Error("no healthcheck")
		return
	}
	var probe *url.URL
	for _, arg := range s.Healthcheck.Test {
		if u, err := url.Parse(arg); err == nil && strings.HasPrefix(arg, "http://") {
			probe = u
		}
	}
	if probe == nil {
		t.Errorf("healthcheck %v fetches no http:// URL", s.Healthcheck.Test)
		return
	}
	if h := probe.Hostname(); h != "127.0.0.1" && h != "localhost" {
		t.Errorf("healthcheck probes %s, want the container itself", h)
	}
	if urlPort(probe) != port {
		t.Errorf("healthcheck probes port %d, want %d", urlPort(probe), port)
	}
	if p := probe.Path; (p != "/healthz" && p != "/readyz") || !routes(t, srv)[p] {
		t.Errorf("healthcheck path %q: want /healthz or /readyz, registered in %s/internal/server/routes.go", p, srv.pkg)
	}
	if len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" || s.Healthcheck.Test[1] != "wget" {
		t.Errorf("healthcheck %v: want [CMD wget …] (busybox wget of the alpine image)", s.Healthcheck.Test)
	}
}

func TestComposeDependsOn(t *testing.T) {
	c := loadCompose(t)
	want := map[string][]string{
		"auth-server":     {"auth_db"},
		"resource-server": {"app_db", "auth-server"},
	}
	for svc, deps := range want {
		s := c.service(t, svc)
		for _, d := range deps {
			if got := s.DependsOn[d].Condition; got != "service_healthy" {
				t.Errorf("%s depends_on %s: condition %q, want service_healthy", svc, d, got)
			}
			if c.Services[d].Healthcheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", svc, d)
			}
		}
	}
}

func TestVariablesAccepted(t *testing.T) {
	c := loadCompose(t)
	for _, srv := range servers {
		t.Run(srv.service, func(t *testing.T) {
			accepted := acceptedVars(t, srv)
			for name := range c.service(t, srv.service).Environment {
				if !accepted[name] {
					t.Errorf("docker-compose.yml sets %s for %s, which %s/config.go does not accept", name, srv.service, srv.pkg)
				}
			}
			_, all := envExample(t, srv.envExample)
			for name := range all {
				if !accepted[name] {
					t.Errorf("%s names %s, which %s/config.go does not accept", srv.envExample, name, srv.pkg)
				}
			}
		})
	}
}
