package deploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// composeCommand finds a Compose CLI: docker-compose (v1, Debian's docker-compose package, or
// the v2 standalone binary), else the docker compose plugin.
func composeCommand(ctx context.Context) []string {
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil {
		if exec.CommandContext(ctx, p, "compose", "version").Run() == nil {
			return []string{p, "compose"}
		}
	}
	return nil
}

// TestComposeConfigValid has the Compose CLI itself validate docker-compose.yml (no Docker
// engine needed), with env files made from the examples in a scratch copy of the layout.
func TestComposeConfigValid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := composeCommand(ctx)
	if cli == nil {
		t.Skip("no docker-compose or docker compose plugin: skipping `config -q` (apt-get install docker-compose)")
	}
	dir := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docker-compose.yml", readFile(t, "docker-compose.yml"))
	for _, srv := range servers {
		write(filepath.Join(srv.pkg, "Dockerfile"), readFile(t, filepath.Join(srv.pkg, "Dockerfile")))
		write(strings.TrimSuffix(srv.envExample, ".example"), readFile(t, srv.envExample))
	}
	for _, d := range databases {
		write(strings.TrimSuffix(d.envExample, ".example"), readFile(t, d.envExample))
	}
	args := append(cli[1:], "-f", filepath.Join(dir, "docker-compose.yml"), "--project-directory", dir, "config", "-q")
	cmd := exec.CommandContext(ctx, cli[0], args...)
	cmd.Env = compactEnv(os.Environ())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cli[0], strings.Join(args, " "), err, out)
	}
}

// compactEnv drops the variables docker-compose.yml interpolates, so the check sees the
// file's own defaults whatever the caller's shell has set.
func compactEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AUTH_ISSUER=") && !strings.HasPrefix(kv, "AUTH_AUDIENCE=") && !strings.HasPrefix(kv, "COMPOSE_") {
			out = append(out, kv)
		}
	}
	return out
}
