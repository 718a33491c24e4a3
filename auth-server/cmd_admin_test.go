package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// cli runs auth-server commands on one embedded database.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, env: map[string]string{"DATA_DIR": t.TempDir(), "LOG_LEVEL": "error", "SYNC_URLS": "http://app.test/sync",
		"ARGON2_PARAMS": "m=64,t=1,p=1"}}
}

func (c *cli) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return c.env[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

func TestClientsCommands(t *testing.T) {
	c := newCLI(t)
	out := c.ok("", "clients", "add", "shop", "--confidential", "--redirect-uri", "https://shop.example/cb",
		"--grant", "authorization_code", "--grant=client_credentials", "--scope", "openid notes:read", "--role", "reporter")
	id := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?m)^client_secret: (\S{43,})$`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("add: %s", out)
	}
	out = c.ok("", "clients", "list")
	for _, want := range []string{`(?m)^CLIENT_ID +NAME +TYPE +GRANTS +SCOPES +REDIRECT_URIS +ID_TOKEN_ALG$`,
		`(?m)^first-party +first-party +public +password,refresh_token +openid,profile,email,notes:read,notes:write,admin +- +RS256$`,
		`(?m)^` + id[1] + ` +shop +confidential +authorization_code,client_credentials +openid,notes:read +https://shop\.example/cb +RS256$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list: want %s in\n%s", want, out)
		}
	}
	if strings.Contains(c.ok("", "clients", "list", "--json"), secret[1]) {
		t.Error("the secret is shown again")
	}
	var rows []clientJSON
	if err := json.Unmarshal([]byte(c.ok("", "clients", "list", "--json")), &rows); err != nil || len(rows) != 2 || rows[1].Roles[0] != "reporter" {
		t.Errorf("list --json: %+v %v", rows, err)
	}
	if out := c.ok("", "clients", "show", id[1]); !strings.Contains(out, "default scopes:") || !strings.Contains(out, "reporter") {
		t.Errorf("show: %s", out)
	}
	rot := c.ok("", "clients", "rotate-secret", id[1])
	if s := regexp.MustCompile(`(?m)^client_secret: (\S{43,})$`).FindStringSubmatch(rot); s == nil || s[1] == secret[1] {
		t.Errorf("rotate-secret: %s", rot)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "add", "Shop"}, "client name taken"},
		{[]string{"clients", "add", "First-Party"}, "client name taken"},
		{[]string{"clients", "add", "spa", "--redirect-uri", "/cb"}, "invalid redirect uri"},
		{[]string{"clients", "add", "spa", "--grant", "client_credentials"}, "needs a confidential client"},
		{[]string{"clients", "add", "spa", "--scope", "root"}, "invalid scope"},
		{[]string{"clients", "add", "spa", "--role", "Root"}, "invalid role"},
		{[]string{"clients", "add", "spa", "--colour", "red"}, "unknown flag --colour"},
		{[]string{"clients", "remove", "first-party"}, "built-in"},
		{[]string{"clients", "show", "nope"}, "client not found"},
		{[]string{"clients", "rotate-secret", "first-party"}, "public client"},
	} {
		if _, err := c.run("", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	if out := c.ok("", "clients", "remove", id[1]); !strings.Contains(out, "0 session(s) ended") {
		t.Errorf("remove: %s", out)
	}
	if out := c.ok("", "clients", "list"); strings.Contains(out, "shop") {
		t.Errorf("removed client still listed:\n%s", out)
	}
}

// TestClientIDTokenAlg: --id-token-alg is stored, listed and shown, and registers the
// algorithm's key lifecycle in the same change; a bad value is refused, listing the valid
// ones, and writes nothing (no client, no key).
func TestClientIDTokenAlg(t *testing.T) {
	c := newCLI(t)
	c.ok("", "keys", "list") // the default lifecycles: ES256 and RS256
	keysBefore := c.ok("", "keys", "list", "--json")
	for _, bad := range []string{"HS256", "none", "es256", "PS256", ""} {
		_, err := c.run("", "clients", "add", "spa", "--id-token-alg", bad)
		if err == nil || !strings.Contains(err.Error(), "invalid id token algorithm") || !strings.Contains(err.Error(), "RS256, ES256, EdDSA") {
			t.Errorf("--id-token-alg %s: %v; want an error listing RS256, ES256, EdDSA", bad, err)
		}
	}
	if _, err := c.run("", "clients", "add", "spa", "--id-token-alg", "ES256", "--id-token-alg", "EdDSA"); err == nil {
		t.Error("two --id-token-alg values were accepted")
	}
	if out := c.ok("", "clients", "list"); strings.Contains(out, "spa") {
		t.Errorf("a refused client was written:\n%s", out)
	}
	if got := c.ok("", "keys", "list", "--json"); got != keysBefore {
		t.Errorf("a refused client changed the keys:\n%s\nwant\n%s", got, keysBefore)
	}

	out := c.ok("", "clients", "add", "spa", "--id-token-alg", "EdDSA", "--redirect-uri", "https://spa.example/cb")
	id := regexp.MustCompile(`(?m)^client_id: (\S+)$`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "id_token_alg: EdDSA") {
		t.Fatalf("add: %s", out)
	}
	if out := c.ok("", "clients", "list"); !regexp.MustCompile(`(?m)^` + id[1] + ` +spa +public .* +EdDSA$`).MatchString(out) {
		t.Errorf("list does not show EdDSA:\n%s", out)
	}
	if out := c.ok("", "clients", "show", id[1]); !regexp.MustCompile(`(?m)^ID token alg: +EdDSA$`).MatchString(out) {
		t.Errorf("show: %s", out)
	}
	var rows []clientJSON
	if err := json.Unmarshal([]byte(c.ok("", "clients", "list", "--json")), &rows); err != nil || len(rows) != 2 ||
		rows[0].IDTokenAlg != "RS256" || rows[1].IDTokenAlg != "EdDSA" {
		t.Errorf("list --json: %+v %v", rows, err)
	}
	// The EdDSA lifecycle exists (current and next), listed and rotated with the others.
	list := c.ok("", "keys", "list")
	for _, state := range []string{"current", "next"} {
		if !regexp.MustCompile(`(?m)^\S+ +EdDSA +` + state + ` `).MatchString(list) {
			t.Errorf("no EdDSA %s key after registering the client:\n%s", state, list)
		}
	}
	rot := c.ok("", "keys", "rotate", "--force")
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		if !strings.Contains(rot, "alg "+alg+"\n") {
			t.Errorf("keys rotate did not rotate %s:\n%s", alg, rot)
		}
	}
	// A second client of the same algorithm adds no keys; RS256 spelled out is the default.
	before := strings.Count(c.ok("", "keys", "list"), "EdDSA")
	c.ok("", "clients", "add", "spa2", "--id-token-alg", "EdDSA")
	if after := strings.Count(c.ok("", "keys", "list"), "EdDSA"); after != before {
		t.Errorf("a second EdDSA client changed the EdDSA keys: %d rows, then %d", before, after)
	}
	if out := c.ok("", "clients", "add", "plain", "--id-token-alg", "RS256"); strings.Contains(out, "id_token_alg") {
		t.Errorf("RS256 is the default, not stored as a choice: %s", out)
	}
}

func TestUsersCommands(t *testing.T) {
	c := newCLI(t)
	out := c.ok("correct horse battery\n", "users", "create", "root", "root@example.com", "--role", "admin")
	if !strings.Contains(out, "created root (root@example.com)") || !strings.Contains(out, "roles admin") {
		t.Fatalf("create: %s", out)
	}
	c.ok("another password\n", "users", "create", "ann", "ann@example.com")
	out = c.ok("", "users", "list")
	for _, want := range []string{`(?m)^USERNAME +EMAIL +ROLES +STATE +CREATED +LAST_LOGIN +ID$`,
		`(?m)^ann +ann@example\.com +- +active +\S+ +never +\S+$`, `(?m)^root +root@example\.com +admin +active `, `(?m)^2 user\(s\)$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list: want %s in\n%s", want, out)
		}
	}
	if out := c.ok("", "users", "list", "--query", "RO"); !strings.Contains(out, "1 user(s)") || !strings.Contains(out, "root") {
		t.Errorf("list --query: %s", out)
	}
	c.ok("", "users", "role", "add", "ann", "ops")
	c.ok("", "users", "role", "add", "ann@example.com", "ops") // once only
	c.ok("", "users", "disable", "ann")
	var u adminUserJSON
	if err := json.Unmarshal([]byte(c.ok("", "users", "show", "ann", "--json")), &u); err != nil || !u.Disabled ||
		len(u.Roles) != 1 || u.Roles[0] != "ops" {
		t.Errorf("show --json: %+v %v", u, err)
	}
	c.ok("", "users", "enable", "ann")
	c.ok("", "users", "role", "remove", "ann", "ops")
	if out := c.ok("", "users", "show", "ann"); !regexp.MustCompile(`(?m)^roles: +-$`).MatchString(out) || !strings.Contains(out, "active") {
		t.Errorf("show: %s", out)
	}
	if out := c.ok("", "users", "logout", "ann"); !strings.Contains(out, "ended 0 session(s)") {
		t.Errorf("logout: %s", out)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"users", "create", "bob", "bob@example.com"}, "standard input"},
		{"short\n", []string{"users", "create", "bob", "bob@example.com"}, "invalid password"},
		{"long enough pw\n", []string{"users", "create", "ANN", "x@example.com"}, "user exists"},
		{"long enough pw\n", []string{"users", "create", "bob", "bob@example.com", "--role", "Bad Role"}, "invalid role"},
		{"", []string{"users", "show", "nobody"}, "user not found"},
		{"", []string{"users", "role", "add", "ann"}, "want add|remove NAME ROLE"},
		{"", []string{"users", "frobnicate"}, "unknown subcommand"},
		{"", []string{"users", "mfa", "reset", "ann"}, "mfa not enabled"},
		{"", []string{"users", "mfa", "ann"}, "want reset NAME"},
	} {
		if _, err := c.run(tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	c.ok("", "users", "delete", "ann")
	if _, err := c.run("", "users", "show", "ann"); err == nil {
		t.Error("deleted user still shown")
	}
}
