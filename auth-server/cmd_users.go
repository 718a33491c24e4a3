package main

import (
	"bufio"
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
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

const usersUsage = "users: want list, show, create, disable, enable, delete, role add|remove, logout, import or mfa reset"

// usersCommand runs `auth-server users …`, the operator's account administration.
func usersCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usersUsage)
	}
	if args[0] == "import" {
		return importCommand(ctx, cfg, log, args[1:], stdout)
	}
	o, err := parseCLIArgs("users "+args[0], args[1:], []string{"json"}, []string{"query", "role"})
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
	case "list":
		return listUsers(ctx, svc, o.last("query"), o.bools["json"], stdout)
	case "create":
		return createUser(ctx, svc, o, stdin, stdout)
	case "role":
		return roleCommand(ctx, svc, o.args, stdout)
	case "mfa":
		return mfaCommand(ctx, svc, o.args, stdout)
	case "show", "disable", "enable", "delete", "logout":
		if len(o.args) != 1 {
			return fmt.Errorf("users %s: want exactly one NAME or ID", args[0])
		}
		return userCommand(ctx, svc, args[0], o.args[0], o.bools["json"], stdout)
	default:
		return fmt.Errorf("users: unknown subcommand %q (%s)", args[0], strings.TrimPrefix(usersUsage, "users: "))
	}
}

// userCommand runs one of the subcommands that name one user (by name, email or id).
func userCommand(ctx context.Context, svc *account.Service, cmd, ref string, asJSON bool, stdout io.Writer) error {
	switch cmd {
	case "show":
		u, err := svc.UserByRef(ctx, ref)
		if err != nil {
			return err
		}
		return printUser(stdout, u, asJSON)
	case "disable", "enable":
		disabled := cmd == "disable"
		u, err := svc.UpdateUser(ctx, account.CLI, ref, account.UserPatch{Disabled: &disabled})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd %s (every session of a disabled user is ended)\n", cmd, u.Username)
		return nil
	case "delete":
		if err := svc.DeleteUser(ctx, account.CLI, ref); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s, its sessions and (through sync) its app data\n", ref)
		return nil
	default: // logout
		n, err := svc.LogoutEverywhere(ctx, account.CLI, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ended %d session(s) of %s\n", n, ref)
		return nil
	}
}

func roleCommand(ctx context.Context, svc *account.Service, args []string, stdout io.Writer) error {
	if len(args) != 3 || (args[0] != "add" && args[0] != "remove") {
		return errors.New("users role: want add|remove NAME ROLE")
	}
	var add, remove []string
	if args[0] == "add" {
		add = []string{args[2]}
	} else {
		remove = []string{args[2]}
	}
	u, err := svc.ChangeRoles(ctx, account.CLI, args[1], add, remove)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s now has roles: %s (new tokens carry them)\n", u.Username, commas(u.Roles))
	return nil
}

// mfaCommand runs `users mfa reset NAME|ID`: the TOTP secret and recovery codes of a user who
// lost them removed (audited, actor "cli"); the next log-in needs the password only.
func mfaCommand(ctx context.Context, svc *account.Service, args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "reset" {
		return errors.New("users mfa: want reset NAME")
	}
	if err := svc.ResetMFA(ctx, account.CLI, args[1]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed the TOTP secret and recovery codes of %s (the next log-in needs the password only)\n", args[1])
	return nil
}

// createUser makes an account with the password read from the first line of stdin, so it is
// never in the shell's history or the process list.
func createUser(ctx context.Context, svc *account.Service, o cliArgs, stdin io.Reader, stdout io.Writer) error {
	if len(o.args) != 2 {
		return errors.New("users create: want NAME EMAIL (and the password on standard input)")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("users create: read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("users create: give the password on standard input, e.g. `printf '%s\\n' \"$PW\" | auth-server users create …`")
	}
	u, err := svc.CreateUser(ctx, account.CLI, account.NewUser{Username: o.args[0], Email: o.args[1], Password: pw, Roles: o.lists["role"]})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s), id %s, roles %s\n", u.Username, u.Email, u.ID, commas(u.Roles))
	return nil
}

type adminUserJSON struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	Roles       []string   `json:"roles"`
	Disabled    bool       `json:"disabled"`
	MFA         bool       `json:"mfa"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func toAdminUserJSON(u store.User) adminUserJSON {
	out := adminUserJSON{ID: u.ID, Username: u.Username, Email: u.Email, Roles: nonNil(u.Roles), Disabled: u.Disabled(),
		MFA: u.MFA, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if !u.LastLoginAt.IsZero() {
		out.LastLoginAt = &u.LastLoginAt
	}
	return out
}

// listUsers prints every user matching query, page by page, then a summary line.
func listUsers(ctx context.Context, svc *account.Service, query string, asJSON bool, w io.Writer) error {
	var all []adminUserJSON
	cursor := ""
	for {
		page, err := svc.FindUsers(ctx, account.UserSearch{Query: query, Cursor: cursor, Limit: account.MaxPageSize})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			all = append(all, toAdminUserJSON(u))
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(nonNilUsers(all))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tEMAIL\tROLES\tSTATE\tCREATED\tLAST_LOGIN\tID")
	for _, u := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Email, commas(u.Roles), state(u.Disabled),
			u.CreatedAt.UTC().Format(time.RFC3339), lastLogin(u.LastLoginAt), u.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d user(s)\n", len(all))
	return nil
}

func printUser(w io.Writer, u store.User, asJSON bool) error {
	r := toAdminUserJSON(u)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{{"id", r.ID}, {"username", r.Username}, {"email", r.Email}, {"roles", commas(r.Roles)},
		{"state", state(r.Disabled)}, {"mfa", mfaState(r.MFA)}, {"created", r.CreatedAt.UTC().Format(time.RFC3339)},
		{"updated", r.UpdatedAt.UTC().Format(time.RFC3339)}, {"last login", lastLogin(r.LastLoginAt)}} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func mfaState(on bool) string {
	if on {
		return "totp"
	}
	return "-"
}

func state(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}

func lastLogin(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func nonNilUsers(l []adminUserJSON) []adminUserJSON {
	if l == nil {
		return []adminUserJSON{}
	}
	return l
}
