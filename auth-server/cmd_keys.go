package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/keys"
)

// keysCommand runs `auth-server keys list|rotate|revoke`.
func keysCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("keys: want list, rotate or revoke")
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if a.ring == nil { // HS256 on PostgreSQL without KEY_ENCRYPTION_KEY: no ID-token keys either
		return errors.New("keys: ALGORITHM is HS256, which signs with SECRET_KEY, and without KEY_ENCRYPTION_KEY there are no ID-token keys: there are no signing keys to manage")
	}
	if err := a.ring.Bootstrap(ctx); err != nil {
		return err
	}
	opts, err := parseKeysArgs(args[1:])
	if err != nil {
		return err
	}
	asJSON, force := &opts.json, &opts.force
	now := time.Now()
	switch args[0] {
	case "list":
		return printKeys(stdout, a.ring.Keys(), cfg.keyPolicy(), now, *asJSON)
	case "rotate":
		res, err := a.ring.Rotate(ctx, *force)
		var early *keys.TooEarlyError
		switch {
		case errors.As(err, &early):
			return fmt.Errorf("refusing to rotate: the next key has not been published long enough; wait %s (or use --force in an emergency, which may log out users of verifiers that have not seen the next key)", early.Wait.Round(time.Second))
		case errors.Is(err, keyring.ErrAlreadyRotated):
			fmt.Fprintln(stdout, "already rotated by another process: nothing to do")
			return nil
		case err != nil:
			return err
		}
		for _, x := range res {
			fmt.Fprintf(stdout, "rotated: current %s, next %s, retired %s, alg %s\n", x.Current, x.Next, x.Retired, x.Alg)
		}
		return nil
	case "revoke":
		if len(opts.args) != 1 {
			return errors.New("keys revoke: want exactly one KID")
		}
		res, err := a.ring.Revoke(ctx, opts.args[0])
		if err != nil {
			return err
		}
		if res.Current == "" { // the last signing key of an algorithm ALGORITHM no longer names
			fmt.Fprintf(stdout, "revoked %s: removed from the JWKS; no %s key is current any more (ALGORITHM does not use it)\n", res.Revoked, res.Alg)
			return nil
		}
		fmt.Fprintf(stdout, "revoked %s: removed from the JWKS; current %s, next %s, alg %s\n", res.Revoked, res.Current, res.Next, res.Alg)
		return nil
	default:
		return fmt.Errorf("keys: unknown subcommand %q (want list, rotate or revoke)", args[0])
	}
}

type keysArgs struct {
	json, force bool
	args        []string
}

// parseKeysArgs reads --json, --force and positional arguments. It is not the flag package:
// a kid is base64url and may start with "-", so anything that is not one of the two flags is
// an argument (and everything after "--" is).
func parseKeysArgs(args []string) (keysArgs, error) {
	var o keysArgs
	for i, a := range args {
		switch a {
		case "--json", "-json":
			o.json = true
		case "--force", "-force":
			o.force = true
		case "--":
			o.args = append(o.args, args[i+1:]...)
			return o, nil
		default:
			if strings.HasPrefix(a, "--") {
				return o, fmt.Errorf("keys: unknown flag %s (want --json or --force)", a)
			}
			o.args = append(o.args, a)
		}
	}
	return o, nil
}

type keyJSON struct {
	KID       string  `json:"kid"`
	Alg       string  `json:"alg"`
	State     string  `json:"state"`
	Created   *string `json:"created"`
	Activated *string `json:"activated"`
	Retired   *string `json:"retired"`
	RemoveAt  *string `json:"remove_at"`
}

func printKeys(w io.Writer, ks []keys.Key, p keys.Policy, now time.Time, asJSON bool) error {
	rows := make([]keyJSON, 0, len(ks))
	for _, k := range ks {
		removeAt := p.RemoveAt(k)
		if k.State == keys.StateRevoked {
			removeAt = k.RevokedAt
		}
		rows = append(rows, keyJSON{KID: k.KID, Alg: k.Alg, State: string(k.State), Created: ts(k.CreatedAt),
			Activated: ts(k.ActivatedAt), Retired: ts(k.RetiredAt), RemoveAt: ts(removeAt)})
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tREMOVE_AT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.KID, r.Alg, r.State, dash(r.Created), dash(r.Activated), dash(r.Retired), dash(r.RemoveAt))
	}
	return tw.Flush()
}

func ts(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func dash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
