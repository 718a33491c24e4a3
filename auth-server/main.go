// Command auth-server registers users, logs them in, signs short-lived access tokens with
// rotating keys published at /.well-known/jwks.json, keeps refresh sessions, and syncs users
// to resource servers. See README.md and docs/ for its commands and configuration.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jwtauth/jwtauth/internal/envconf"
	"github.com/jwtauth/jwtauth/internal/program"
)

func main() { program.Main("auth-server", run) }

const usage = `usage: auth-server [flags] [command]

commands:
  serve                    run the server (default); migrates and creates keys on start
  migrate                  apply database migrations and exit
  keys list [--json]       show signing keys and their states
  keys rotate [--force]    next -> current -> retired, and publish a fresh next key
  keys revoke KID          remove a compromised key from the JWKS at once
  sync status [--json]     pending sync deliveries per target
  sync replay              re-send every user to every sync target
  mail status [--json]     the mail queue: unsent mails, the oldest one and its last error
  clients add NAME [--confidential] [--redirect-uri URI]... [--post-logout-uri URI]...
              [--grant G]... [--scope "S ..."] [--role R]... [--id-token-alg RS256|ES256|EdDSA]
                           register a client; prints its client_id (and secret, once)
  clients list [--json]    registered clients, the built-in first-party one first
  clients show ID          one client
  clients rotate-secret ID a new secret for a confidential client (the old one stops working)
  clients remove ID        remove a client and end its sessions
  users list [--query Q] [--json]
                           users whose username or email starts with Q
  users show NAME|ID [--json]
  users create NAME EMAIL [--role R]...
                           make an account; the password is read from standard input
  users disable|enable|delete NAME|ID
  users role add|remove NAME ROLE
  users logout NAME        end every session of the user
  users import --jsonl FILE | --from-seed POSTGRES_URL [--dry-run] [--batch N]
                           move users in (the Python system's users_auth, or JSON lines);
                           idempotent; prints the skipped rows and a summary line

Every setting is an environment variable (see README.md) and also a flag: AUTH_ADDR is --auth-addr.
`

// run is the whole program: it parses configuration and runs one command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
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
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		a, err := openApp(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "keys":
		return keysCommand(ctx, cfg, log, rest, stdout)
	case "sync":
		return syncCommand(ctx, cfg, log, rest, stdout)
	case "mail":
		return mailCommand(ctx, cfg, log, rest, stdout)
	case "clients":
		return clientsCommand(ctx, cfg, log, rest, stdout)
	case "users":
		return usersCommand(ctx, cfg, log, rest, stdin, stdout)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
