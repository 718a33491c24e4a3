// Command resource-server serves the app's API (the user's app record, notes, the Python
// system's /awesome_app) to holders of the auth server's access tokens, which it verifies
// offline against the auth server's JWKS, and applies the auth server's user sync. See
// docs/resource-server.md for its endpoints and configuration.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jwtauth/jwtauth/internal/envconf"
	"github.com/jwtauth/jwtauth/internal/program"
)

func main() { program.Main("resource-server", run) }

const usage = `usage: resource-server [flags] [command]

commands:
  serve     run the server (default); migrates the app database on start
  migrate   apply the app database's migrations and exit

Every setting is an environment variable (see docs/resource-server.md) and also a flag:
RESOURCE_ADDR is --resource-addr. A .env file in the working directory is read too.
`

// run is the whole program: it parses configuration and runs one command.
func run(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	if envconf.WantsHelp(args) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, rest, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := cfg.Logger(stderr)
	cmd, rest := envconf.Command(rest, "serve")
	if len(rest) > 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unexpected arguments after %s: %q", cmd, rest)
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		d, err := openDB(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer d.Close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
