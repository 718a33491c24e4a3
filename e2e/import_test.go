package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// seedTable is the Python system's users_auth: no unique constraints, passlib bcrypt hashes.
const seedTable = `CREATE TABLE users_auth (id SERIAL PRIMARY KEY, username VARCHAR, email VARCHAR, hpass VARCHAR)`

// openDB opens a database of a test by URL, closed when the test ends.
func openDB(t testing.TB, u string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), u, 2)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(u), err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// seedUser is one row written to the seed's users_auth, and the password it was made with.
type seedUser struct{ username, email, password string }

// importLongPassword is over bcrypt's 72 bytes: the old system let in any password sharing
// the first 72.
var importLongPassword = strings.Repeat("long-password-", 6) // 84 bytes

// writeSeed fills a fresh seed database like the Python system's: n users with their own
// passwords, then duplicates in another letter case, an invalid email, a NULL hash and a
// user with a password over 72 bytes. It returns the database's URL and the rows that
// should be imported.
func writeSeed(t *testing.T, n int) (string, []seedUser) {
	t.Helper()
	u := testdb.PostgresURL(t)
	d := openDB(t, u)
	if _, err := d.Exec(seedTable); err != nil {
		t.Fatal(err)
	}
	var want []seedUser
	insert := func(name, email, pw string, null bool) {
		t.Helper()
		var hash any
		if !null {
			b := []byte(pw)
			if len(b) > 72 {
				b = b[:72] // passlib's bcrypt read the first 72 bytes only
			}
			h, err := bcrypt.GenerateFromPassword(b, 4)
			if err != nil {
				t.Fatal(err)
			}
			hash = strings.Replace(string(h), "$2a$", "$2b$", 1) // passlib writes $2b$
		}
		if _, err := d.Exec(`INSERT INTO users_auth (username, email, hpass) VALUES ($1, $2, $3)`, name, email, hash); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		s := seedUser{fmt.Sprintf("User%03d", i), fmt.Sprintf("user%03d@Example.com", i), fmt.Sprintf("old password %d", i)}
		insert(s.username, s.email, s.password, false)
		want = append(want, s)
	}
	insert("USER001", "someone.else@example.com", "dup", false) // username collides with User001
	insert("user001", "user001@example.com", "dup", false)      // both collide
	insert("newname", "USER002@example.com", "dup", false)      // email collides with user002's
	insert("bademail", "not an email", "x", false)              // invalid email
	insert("nullhash", "nullhash@example.com", "", true)        // no hash at all
	long := seedUser{"longpw", "longpw@example.com", importLongPassword}
	insert(long.username, long.email, long.password, false)
	return u, append(want, long)
}

var summaryLine = regexp.MustCompile(`(?m)^imported (\d+), skipped (\d+), already present (\d+)$`)

// summaryOf is the summary line of an import's output.
func summaryOf(t testing.TB, res CLIResult) string {
	t.Helper()
	m := summaryLine.FindString(res.Stdout)
	if m == "" {
		t.Fatalf("no summary line: %s", res)
	}
	return m
}

// The Python system's users move in with one command: colliding and invalid rows are listed
// and skipped, a dry run writes nothing, a second run adds nothing, and the imported users
// log in with their old passwords (a long one as bcrypt checked it), are rehashed to
// argon2id, and reach the resource server by sync.
func TestImportFromSeed(t *testing.T) {
	t.Parallel()
	seedURL, want := writeSeed(t, 300)
	authEnv, appEnv := pgEnv(t)
	s := startStack(t, StackOptions{Auth: authEnv, Resource: appEnv})
	auth := openDB(t, authEnv["AUTH_DATABASE_URL"])
	countUsers := func() (n int) {
		t.Helper()
		if err := auth.Get(&n, `SELECT count(*) FROM users`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	dry := s.Auth.MustCLI("users", "import", "--from-seed", seedURL, "--dry-run")
	if got, exp := summaryOf(t, dry), fmt.Sprintf("imported %d, skipped 5, already present 0", len(want)); got != exp {
		t.Fatalf("dry run: %q, want %q", got, exp)
	}
	if n := countUsers(); n != 0 {
		t.Fatalf("the dry run created %d users", n)
	}

	first := s.Auth.MustCLI("users", "import", "--from-seed", seedURL)
	if got, exp := summaryOf(t, first), fmt.Sprintf("imported %d, skipped 5, already present 0", len(want)); got != exp {
		t.Fatalf("import: %q, want %q\n%s", got, exp, first.Stdout)
	}
	for _, wantLine := range []string{
		`skipped id 301 (username "USER001", email "someone.else@example.com"): username collides with that of id 2`,
		`skipped id 302 (username "user001", email "user001@example.com"): username collides with that of id 2`,
		`skipped id 303 (username "newname", email "USER002@example.com"): email collides with that of id 3`,
		`skipped id 304 (username "bademail", email "not an email"): invalid email`,
		`skipped id 305 (username "nullhash", email "nullhash@example.com"): unusable password hash`,
	} {
		if !strings.Contains(first.Stdout, wantLine) {
			t.Errorf("the report lacks %q:\n%s", wantLine, first.Stdout)
		}
	}
	if n := countUsers(); n != len(want) {
		t.Fatalf("%d users, want %d", n, len(want))
	}

	again := s.Auth.MustCLI("users", "import", "--from-seed", seedURL)
	if got, exp := summaryOf(t, again), fmt.Sprintf("imported 0, skipped 5, already present %d", len(want)); got != exp {
		t.Fatalf("second run: %q, want %q", got, exp)
	}
	if !strings.Contains(again.Stdout, "nothing to import") {
		t.Errorf("the second run does not say it had nothing to import:\n%s", again.Stdout)
	}

	checkImportedUsers(t, s, auth, appEnv["APP_DATABASE_URL"], len(want))
}

// checkImportedUsers checks that imported users log in with their old passwords (the long one
// as bcrypt did), are rehashed to argon2id at the first login (only then), and that all n
// reach the resource server by sync.
func checkImportedUsers(t *testing.T, s *Stack, auth *db.DB, appURL string, n int) {
	t.Helper()
	c := newClient(t)
	login := func(name, pw string) *Response {
		return c.PostForm(s.Auth.URL+"/login", url.Values{"username": {name}, "password": {pw}})
	}
	var tok tokenResponse
	login("user007", "old password 7").Want(t, http.StatusOK).JSON(t, &tok)
	login("USER008@example.com", "old password 8").Want(t, http.StatusOK)
	login("user009", "wrong password").Want(t, http.StatusUnauthorized)
	// bcrypt's 72-byte rule: a different tail still logs in, until the rehash.
	login("longpw", importLongPassword[:72]+"anything else").Want(t, http.StatusOK)
	var hash string
	if err := auth.Get(&hash, `SELECT password_hash FROM users WHERE username = 'user007'`); err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Errorf("user007's hash after the first login: %.12s… (%v), want argon2id", hash, err)
	}
	if err := auth.Get(&hash, `SELECT password_hash FROM users WHERE username = 'user010'`); err != nil || !strings.HasPrefix(hash, "$2b$") {
		t.Errorf("user010, who never logged in, has %.12s… (%v), want the imported bcrypt hash", hash, err)
	}

	app := openDB(t, appURL)
	var synced int
	if !poll(60*time.Second, func() bool { return app.Get(&synced, `SELECT count(*) FROM app_users`) == nil && synced == n }) {
		t.Fatalf("%d of %d imported users reached the resource server", synced, n)
	}
	var me struct{ Username string }
	c.Get(s.Resource.URL+"/me", bearer(tok.AccessToken)).Want(t, http.StatusOK).JSON(t, &me)
	if me.Username != "user007" {
		t.Errorf("resource /me = %+v", me)
	}
}

// An import killed with SIGKILL half-way and run again ends with every user exactly once,
// each with one sync event.
func TestImportKilledThenRerun(t *testing.T) {
	t.Parallel()
	const n = 20000
	seedURL := testdb.PostgresURL(t)
	seed := openDB(t, seedURL)
	h, err := bcrypt.GenerateFromPassword([]byte("password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Exec(seedTable); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Exec(`INSERT INTO users_auth (username, email, hpass) SELECT 'kuser' || g, 'kuser' || g || '@example.com', $1 FROM generate_series(1, $2) g`, string(h), n); err != nil {
		t.Fatal(err)
	}
	authEnv, _ := pgEnv(t)
	p := newAuth(t, authEnv)
	auth := openDB(t, authEnv["AUTH_DATABASE_URL"])
	count := func() (users, events int) {
		_ = auth.Get(&users, `SELECT count(*) FROM users`)
		_ = auth.Get(&events, `SELECT count(*) FROM outbox_events`)
		return users, events
	}

	cmd := exec.Command(p.bin, "users", "import", "--from-seed", seedURL, "--batch", "10")
	cmd.Dir, cmd.Env = p.Dir, childEnv(p.env)
	out, err := os.Create(filepath.Join(p.Dir, "import.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if !poll(readyTimeout, func() bool { u, _ := count(); return u > 0 }) {
		t.Fatal("the import wrote no user")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	killedAt, _ := count()
	if killedAt >= n {
		t.Logf("the import finished before the kill (%d users): the rerun still must add nothing", killedAt)
	}

	res := p.MustCLI("users", "import", "--from-seed", seedURL, "--batch", "500")
	// A COMMIT the killed process had sent may still land after it died: the rerun may find
	// a batch more present than was counted just after the kill, never fewer.
	var imported, present int
	if _, err := fmt.Sscanf(summaryOf(t, res), "imported %d, skipped 0, already present %d", &imported, &present); err != nil ||
		imported+present != n || present < killedAt {
		t.Errorf("rerun: %q, want imported + already present = %d, with at least %d present", summaryOf(t, res), n, killedAt)
	}
	users, events := count()
	var distinct int
	_ = auth.Get(&distinct, `SELECT count(DISTINCT lower(username)) FROM users`)
	if users != n || distinct != n || events != n {
		t.Errorf("after the rerun: %d users (%d distinct), %d sync events; want %d of each", users, distinct, events, n)
	}
}
