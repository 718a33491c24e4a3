package importer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jwtauth/jwtauth/auth-server/internal/importer"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

const argonHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func bcryptHash(t testing.TB) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("password1"), 4)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// file is a JSON-lines import with valid users, collisions in letter case, and bad lines.
func file(t testing.TB) string {
	h := bcryptHash(t)
	lines := []string{
		fmt.Sprintf(`{"username":"Alice","email":"Alice@Example.com","password_hash":%q}`, h),               // 1
		fmt.Sprintf(`{"username":"bob","email":"bob@example.com","password_hash":%q,"roles":["admin"]}`, h), // 2
		fmt.Sprintf(`{"username":"ALICE","email":"other@example.com","password_hash":%q}`, h),               // 3 username collides with 1
		fmt.Sprintf(`{"username":"carol","email":"alice@example.COM","password_hash":%q}`, h),               // 4 email collides with 1
		fmt.Sprintf(`{"username":"dave","email":"not-an-email","password_hash":%q}`, h),                     // 5 invalid email
		`{"username":"erin","email":"erin@example.com","password_hash":"$1$md5$nope"}`,                      // 6 bad hash
		`not json`, // 7
		``,         // 8 blank: passed over
		fmt.Sprintf(`{"username":"frank","email":"frank@example.com","password_hash":%q,"email_verified":true}`, argonHash), // 9
		fmt.Sprintf(`{"username":"x","email":"x@example.com","password_hash":%q}`, h),                                       // 10 invalid username
		`{"username":"gina","email":"gina@example.com"}`,                                                                    // 11 no hash
	}
	return strings.Join(lines, "\n") + "\n"
}

func run(t *testing.T, st *store.Store, input string, cfg importer.Config) importer.Summary {
	t.Helper()
	sum, err := importer.New(st, cfg).Run(context.Background(), importer.ReadJSONL(strings.NewReader(input)))
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestImportJSONL(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		st := store.New(d)
		ctx := context.Background()
		in := file(t)
		targets := []string{"http://a.test/sync", "http://b.test/sync"}

		dry := run(t, st, in, importer.Config{Targets: targets, DryRun: true, BatchSize: 2})
		if got, want := dry.String(), "imported 3, skipped 7, already present 0"; got != want {
			t.Fatalf("dry run: %q, want %q (%+v)", got, want, dry.Skips)
		}
		if n, _ := st.CountUsers(ctx); n != 0 {
			t.Fatalf("a dry run created %d users", n)
		}

		sum := run(t, st, in, importer.Config{Targets: targets, BatchSize: 2})
		if got, want := sum.String(), "imported 3, skipped 7, already present 0"; got != want {
			t.Fatalf("first run: %q, want %q", got, want)
		}
		var lines []int
		for _, s := range sum.Skips {
			lines = append(lines, s.Line)
		}
		if got, want := fmt.Sprint(lines), "[3 4 5 6 7 10 11]"; got != want {
			t.Errorf("skipped lines %s, want %s", got, want)
		}
		if r := sum.Skips[0].Reason; !strings.Contains(r, "username collides") || !strings.Contains(r, "line 1") {
			t.Errorf("collision reason %q", r)
		}
		u, err := st.UserByLogin(ctx, "ALICE@example.com")
		if err != nil || u.Username != "alice" || u.Email != "alice@example.com" || !strings.HasPrefix(u.PasswordHash, "$2") {
			t.Errorf("alice = %+v, %v", u, err)
		}
		if b, _ := st.UserByLogin(ctx, "bob"); fmt.Sprint(b.Roles) != "[admin]" {
			t.Errorf("bob's roles %v", b.Roles)
		}
		var events, deliveries int
		_ = d.Get(&events, `SELECT count(*) FROM outbox_events`)
		_ = d.Get(&deliveries, `SELECT count(*) FROM outbox_deliveries`)
		if events != 3 || deliveries != 6 {
			t.Errorf("outbox: %d events, %d deliveries; want 3 and 6", events, deliveries)
		}

		again := run(t, st, in, importer.Config{Targets: targets})
		if got, want := again.String(), "imported 0, skipped 7, already present 3"; got != want {
			t.Fatalf("second run: %q, want %q", got, want)
		}
		_ = d.Get(&events, `SELECT count(*) FROM outbox_events`)
		if n, _ := st.CountUsers(ctx); n != 3 || events != 3 {
			t.Errorf("after the second run: %d users, %d events", n, events)
		}
	})
}

// A user whose username or email is another user's already in the auth server is skipped.
func TestImportTakenByAnotherUser(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		st := store.New(d)
		now := time.Now()
		if err := st.CreateUser(context.Background(), store.User{ID: "u1", Username: "alice", Email: "someone@example.com",
			PasswordHash: "x", Version: 1, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
			t.Fatal(err)
		}
		sum := run(t, st, file(t), importer.Config{})
		if got, want := sum.String(), "imported 2, skipped 8, already present 0"; got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		if r := sum.Skips[len(sum.Skips)-1]; r.Line != 1 || !strings.Contains(r.Reason, "another user") {
			t.Errorf("last skip %+v", r)
		}
	})
}

// A reader that fails stops the import; the batches before it stay, and a second run
// completes it without adding anyone twice.
func TestImportInterruptedThenRerun(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		st := store.New(d)
		h := bcryptHash(t)
		var b strings.Builder
		for i := 0; i < 25; i++ {
			fmt.Fprintf(&b, `{"username":"user%d","email":"user%d@example.com","password_hash":%q}`+"\n", i, i, h)
		}
		in := b.String()
		cut := strings.Index(in, `"user12"`) // part of a line: the reader fails mid-file
		_, err := importer.New(st, importer.Config{BatchSize: 5}).Run(context.Background(),
			importer.ReadJSONL(&failingReader{data: in[:cut]}))
		if err == nil {
			t.Fatal("no error from a failing reader")
		}
		if n, _ := st.CountUsers(context.Background()); n != 10 {
			t.Fatalf("after the failure: %d users, want the two whole batches (10)", n)
		}
		sum := run(t, st, in, importer.Config{BatchSize: 5})
		if got, want := sum.String(), "imported 15, skipped 0, already present 10"; got != want {
			t.Fatalf("rerun: %q, want %q", got, want)
		}
	})
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, fmt.Errorf("disk on fire")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// Signups racing an import for the same names: the import neither fails nor creates anyone
// twice; a name the signup won is reported as taken.
func TestImportRacesSignups(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		st := store.New(d)
		h := bcryptHash(t)
		const n = 300
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, `{"username":"race%03d","email":"race%03d@example.com","password_hash":%q}`+"\n", i, i, h)
		}
		done := make(chan int)
		go func() {
			won := 0
			for i := n - 1; i >= 0; i -= 3 {
				now := time.Now()
				err := st.CreateUser(context.Background(), store.User{ID: fmt.Sprintf("signup-%d", i), Username: fmt.Sprintf("race%03d", i),
					Email: fmt.Sprintf("race%03d@signup.example", i), PasswordHash: "x", Version: 1, CreatedAt: now, UpdatedAt: now}, nil)
				if err == nil {
					won++
				}
			}
			done <- won
		}()
		sum := run(t, st, b.String(), importer.Config{BatchSize: 20})
		won := <-done
		if sum.Imported+sum.Skipped != n || sum.Skipped != won || sum.Present != 0 {
			t.Errorf("%s with %d signups won, want imported + skipped = %d and skipped = signups won", sum, won, n)
		}
		if c, _ := st.CountUsers(context.Background()); c != n {
			t.Errorf("%d users, want %d", c, n)
		}
	})
}
