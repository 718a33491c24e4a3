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

	"github.com/jwtauth/jwtauth/auth-server/internal/account"
	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// accounts is the account service of a CLI command, which works on the database directly.
func (a *app) accounts(log *slog.Logger) *account.Service {
	d := account.Deps{Store: a.store, Hasher: password.NewHasher(a.cfg.Argon2, 0), Issuer: a.issuer, Logger: log, Now: time.Now}
	if a.ring != nil { // a client's ID-token algorithm gets its key lifecycle as it is registered
		d.ClientKeys = a.ring
	}
	return account.New(account.Config{SyncTargets: a.cfg.SyncURLs}, d)
}

// clientsCommand runs `auth-server clients add|list|show|rotate-secret|remove`.
func clientsCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("clients: want add, list, show, rotate-secret or remove")
	}
	o, err := parseCLIArgs("clients "+args[0], args[1:], []string{"confidential", "json"},
		[]string{"redirect-uri", "post-logout-uri", "grant", "scope", "role", "id-token-alg"})
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	svc := a.accounts(log)
	switch args[0] {
	case "add":
		if len(o.args) != 1 {
			return errors.New("clients add: want exactly one NAME")
		}
		return addClient(ctx, svc, o, stdout)
	case "list":
		list, err := svc.Clients(ctx)
		if err != nil {
			return err
		}
		return printClients(stdout, list, o.bools["json"])
	case "show":
		if len(o.args) != 1 {
			return errors.New("clients show: want exactly one CLIENT_ID")
		}
		c, err := svc.Client(ctx, o.args[0])
		if err != nil {
			return err
		}
		return printClient(stdout, c)
	case "rotate-secret":
		if len(o.args) != 1 {
			return errors.New("clients rotate-secret: want exactly one CLIENT_ID")
		}
		secret, err := svc.RotateClientSecret(ctx, account.CLI, o.args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client_secret: %s\n\nThe old secret no longer works. The new one is shown only now: store it in the client's configuration.\n", secret)
		return nil
	case "remove":
		if len(o.args) != 1 {
			return errors.New("clients remove: want exactly one CLIENT_ID")
		}
		n, err := svc.RemoveClient(ctx, account.CLI, o.args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s; %d session(s) ended\n", o.args[0], n)
		return nil
	default:
		return fmt.Errorf("clients: unknown subcommand %q (want add, list, show, rotate-secret or remove)", args[0])
	}
}

// addClient registers a client. Without --grant it gets authorization_code and refresh_token;
// without --scope, openid profile email; without --id-token-alg, RS256 ID tokens.
func addClient(ctx context.Context, svc *account.Service, o cliArgs, stdout io.Writer) error {
	if n := len(o.lists["id-token-alg"]); n > 1 {
		return fmt.Errorf("clients add: --id-token-alg given %d times; want one of %s", n, strings.Join(clients.IDTokenAlgs(), ", "))
	}
	c := clients.Client{Name: o.args[0], Confidential: o.bools["confidential"], RedirectURIs: o.lists["redirect-uri"],
		PostLogoutURIs: o.lists["post-logout-uri"], Grants: o.lists["grant"], Roles: o.lists["role"], IDTokenAlg: o.last("id-token-alg")}
	if _, given := o.lists["id-token-alg"]; given && c.IDTokenAlg == "" {
		return fmt.Errorf("clients add: --id-token-alg: %w: empty (want one of %s)", clients.ErrInvalidIDTokenAlg, strings.Join(clients.IDTokenAlgs(), ", "))
	}
	if err := clients.CheckIDTokenAlg(c.IDTokenAlg); err != nil {
		return fmt.Errorf("clients add: --id-token-alg: %w", err)
	}
	if len(c.Grants) == 0 {
		c.Grants = []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken}
	}
	for _, s := range o.lists["scope"] {
		scopes, err := clients.ParseScope(s)
		if err != nil {
			return err
		}
		c.Scopes = append(c.Scopes, scopes...)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	}
	sc, secret, err := svc.AddClient(ctx, account.CLI, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "client_id: %s\n", sc.ID)
	if sc.IDTokenAlg != "" {
		fmt.Fprintf(stdout, "id_token_alg: %s\n", sc.IDTokenAlg)
	}
	if secret != "" {
		fmt.Fprintf(stdout, "client_secret: %s\n\nThe secret is shown only now (it is stored as a hash): store it in the client's configuration.\n", secret)
	}
	return nil
}

type clientJSON struct {
	ClientID       string   `json:"client_id"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	Grants         []string `json:"grants"`
	Scopes         []string `json:"scopes"`
	DefaultScopes  []string `json:"default_scopes"`
	RedirectURIs   []string `json:"redirect_uris"`
	PostLogoutURIs []string `json:"post_logout_uris"`
	Roles          []string `json:"roles"`
	IDTokenAlg     string   `json:"id_token_alg"`
}

func toClientJSON(c store.StoredClient) clientJSON {
	typ := "public"
	if c.Confidential {
		typ = "confidential"
	}
	return clientJSON{ClientID: c.ID, Name: c.Name, Type: typ, Grants: nonNil(c.Grants), Scopes: nonNil(c.Scopes),
		DefaultScopes: nonNil(c.DefaultScopes), RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutURIs: nonNil(c.PostLogoutURIs), Roles: nonNil(c.Roles), IDTokenAlg: c.IDTokenAlgOrDefault()}
}

func printClients(w io.Writer, list []store.StoredClient, asJSON bool) error {
	rows := make([]clientJSON, len(list))
	for i, c := range list {
		rows[i] = toClientJSON(c)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tGRANTS\tSCOPES\tREDIRECT_URIS\tID_TOKEN_ALG")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ClientID, r.Name, r.Type, commas(r.Grants), commas(r.Scopes), commas(r.RedirectURIs), r.IDTokenAlg)
	}
	return tw.Flush()
}

func printClient(w io.Writer, c store.StoredClient) error {
	r := toClientJSON(c)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{{"client_id", r.ClientID}, {"name", r.Name}, {"type", r.Type},
		{"grants", commas(r.Grants)}, {"scopes", commas(r.Scopes)}, {"default scopes", commas(r.DefaultScopes)},
		{"redirect URIs", commas(r.RedirectURIs)}, {"post-logout URIs", commas(r.PostLogoutURIs)}, {"roles", commas(r.Roles)}, {"ID token alg", r.IDTokenAlg}} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// commas joins a list for a table cell; "-" when empty.
func commas(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
