package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestSyncCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "SYNC_URLS": "http://a.test/sync,http://user:secret@b.test/sync", "LOG_LEVEL": "error"}
	getenv := func(k string) string { return env[k] }
	sync := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"sync"}, args...), getenv, strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}
	// Two users created while no target was configured: nothing pending.
	d := testdb.Open(t, "sqlite:"+filepath.Join(dir, "auth.db"), db.AuthSchema)
	now := time.Now().UTC()
	for _, name := range []string{"ann", "bob"} {
		u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "h", Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := store.New(d).CreateUser(context.Background(), u, nil); err != nil {
			t.Fatal(err)
		}
	}

	out, err := sync("replay")
	if err != nil || !strings.Contains(out, "replaying 2 users and 0 revocations in force to 2 sync targets") {
		t.Fatalf("replay: %q, %v", out, err)
	}
	out, err = sync("status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []syncStatusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if len(rows) != 2 || rows[0].Target != "http://a.test/sync" || rows[0].Pending != 2 || rows[0].OldestAgeSecs == nil ||
		rows[0].Replay == nil || rows[0].Replay.Total != 2 || rows[0].Replay.Sent != 0 ||
		!rows[1].Configured || strings.Contains(rows[1].Target, "secret") {
		t.Errorf("status rows: %s", out)
	}
	env["SYNC_URLS"] = "http://c.test/sync"
	out, err = sync("status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^http://c\.test/sync +0 +- `, `(?m)^http://a\.test/sync \(not configured: not delivered\) +2 +\d+s +0 .* 0 of 2 users sent$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("status text does not match %s:\n%s", want, out)
		}
	}
	if _, err := sync("nonsense"); err == nil {
		t.Error("unknown subcommand accepted")
	}
}
