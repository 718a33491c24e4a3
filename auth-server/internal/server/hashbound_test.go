package server_test

import (
	"context"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// Many concurrent logins with the production argon2id parameters (19 MiB each) go through
// the bounded hashing queue: the heap stays near a few hashes' worth, not one per request.
func TestConcurrentLoginsKeepMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: real argon2id parameters")
	}
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	const workers, logins = 2, 32
	e := newEnvWithHasher(t, d, password.NewHasher(password.DefaultParams(), workers))
	e.signup("mallory", "mallory@example.com", "password1")

	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	ctx, stop := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < logins; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "password1"
			if i%2 == 1 {
				pw = "wrong-password"
			}
			e.login("mallory", pw)
		}()
	}
	wg.Wait()
	stop()
	<-sampled
	// One hash holds 19 MiB; unbounded, 32 at once would hold about 600 MiB. Allow the bound's
	// two, the garbage the collector has not reclaimed yet, and the test's own heap.
	const limit = 200 << 20
	if p := peak.Load(); p > limit {
		t.Fatalf("peak heap %d MiB with %d concurrent logins; want < %d MiB", p>>20, logins, limit>>20)
	} else {
		t.Logf("peak heap %d MiB", p>>20)
	}
}
