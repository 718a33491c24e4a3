package store_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// refreshBench is a store with sessions whose token chains the benchmarks follow.
type refreshBench struct {
	s      *store.Store
	now    time.Time
	heads  []string // the unspent token of each session
	seq    atomic.Int64
	userID string
}

// newRefreshBench makes a user and n sessions on a fresh database of the kind open gives.
func newRefreshBench(b *testing.B, d *db.DB, n int) *refreshBench {
	b.Helper()
	ctx := context.Background()
	rb := &refreshBench{s: store.New(d), now: time.UnixMilli(time.Now().UnixMilli()).UTC(), heads: make([]string, n)}
	name := testdb.Name("bench")
	u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "hash-" + name,
		Version: 1, CreatedAt: rb.now, UpdatedAt: rb.now}
	if err := rb.s.CreateUser(ctx, u, nil); err != nil {
		b.Fatalf("create user: %v", err)
	}
	rb.userID = u.ID
	for i := range rb.heads {
		tok, hash, err := refresh.NewToken()
		if err != nil {
			b.Fatal(err)
		}
		rb.heads[i] = tok
		sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: rb.now, LastUsedAt: rb.now,
			ExpiresAt: rb.now.Add(720 * time.Hour)}
		if err := rb.s.CreateSession(ctx, sess, hash, rb.now.Add(168*time.Hour),
			store.AuditEvent{At: rb.now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID}); err != nil {
			b.Fatalf("create session: %v", err)
		}
	}
	return rb
}

// rotate runs one refresh of session i as the server does: a new token, its hash, the child
// sealed under the presented token, then Store.Refresh with a rotate decision.
func (rb *refreshBench) rotate(ctx context.Context, i int) error {
	parent := rb.heads[i]
	child, hash, err := refresh.NewToken()
	if err != nil {
		return err
	}
	sealed, err := refresh.Seal(parent, child)
	if err != nil {
		return err
	}
	_, err = rb.s.Refresh(ctx, refresh.Hash(parent), rb.now, func(st store.RefreshState) (store.RefreshStep, error) {
		if !st.Token.SpentAt.IsZero() {
			return store.RefreshStep{}, store.ErrSessionEnded
		}
		return store.RefreshStep{Action: refresh.Rotate, ChildHash: hash, ChildSealed: sealed,
			ChildExpires: rb.now.Add(168 * time.Hour)}, nil
	})
	if err == nil {
		rb.heads[i] = child
	}
	return err
}

// eachStore runs fn on a fresh SQLite database and, with TEST_DATABASE_URL, a PostgreSQL one.
func eachStore(b *testing.B, fn func(b *testing.B, d *db.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, testdb.Open(b, testdb.SQLiteURL(b), db.AuthSchema)) })
	b.Run("postgres", func(b *testing.B) { fn(b, testdb.Open(b, testdb.PostgresURL(b), db.AuthSchema)) })
}

// BenchmarkRefreshRotate is one refresh store operation after another on one session: read
// the token with its session and user, then spend the token, touch the session and insert the
// child as a compare-and-swap (one statement on PostgreSQL, a transaction of the writes alone
// on SQLite).
func BenchmarkRefreshRotate(b *testing.B) {
	eachStore(b, func(b *testing.B, d *db.DB) {
		rb := newRefreshBench(b, d, 1)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := rb.rotate(ctx, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshRotateParallel refreshes from GOMAXPROCS×4 goroutines at once, each on its
// own session, through the pool (as concurrent clients of one server do).
func BenchmarkRefreshRotateParallel(b *testing.B) {
	eachStore(b, func(b *testing.B, d *db.DB) {
		const perProc = 4
		b.SetParallelism(perProc)
		rb := newRefreshBench(b, d, perProc*runtime.GOMAXPROCS(0))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(rb.seq.Add(1) - 1)
			for pb.Next() {
				if err := rb.rotate(ctx, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLoginStore is the store's part of a password log-in (the argon2id check aside):
// the user by login, both throttle counters, then the session with its first refresh token
// and audit event, one log-in after another.
func BenchmarkLoginStore(b *testing.B) {
	eachStore(b, func(b *testing.B, d *db.DB) {
		rb := newRefreshBench(b, d, 1)
		ctx := context.Background()
		u, err := rb.s.UserByID(ctx, rb.userID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rb.s.UserByLogin(ctx, u.Username); err != nil {
				b.Fatal(err)
			}
			if _, _, err := rb.s.ThrottleCounters(ctx, "account:"+u.ID, "address:127.0.0.1"); err != nil {
				b.Fatal(err)
			}
			_, hash, err := refresh.NewToken()
			if err != nil {
				b.Fatal(err)
			}
			sess := store.Session{ID: uuid.NewString(), UserID: u.ID, CreatedAt: rb.now, LastUsedAt: rb.now, ExpiresAt: rb.now.Add(720 * time.Hour)}
			if err := rb.s.CreateSession(ctx, sess, hash, rb.now.Add(168*time.Hour),
				store.AuditEvent{At: rb.now, Event: store.AuditLoginSuccess, UserID: u.ID, SessionID: sess.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
