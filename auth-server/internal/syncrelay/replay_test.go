package syncrelay_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

// replays returns the replays in progress in s.
func replays(t testing.TB, s *store.Store) []store.Replay {
	t.Helper()
	rs, err := s.Replays(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// startReplay starts a replay of every user of s to targets.
func startReplay(t testing.TB, s *store.Store, targets ...string) int {
	t.Helper()
	n, err := s.StartReplay(context.Background(), targets, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lastVersions is, per user, the highest version tg acknowledged.
func (tg *target) lastVersions() map[string]int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[string]int64{}
	for id, vs := range tg.order {
		for _, v := range vs {
			out[id] = max(out[id], v)
		}
	}
	return out
}

// TestReplayDeliversEveryUser replays users that were never queued (created with no target)
// in batches cut by the byte limit, through a target that refuses some calls, while a change
// made during the replay travels the outbox: every user arrives at its last version, the
// replay ends, and its calls count as deliveries and failures.
func TestReplayDeliversEveryUser(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		issuer, pub := newSigner(t)
		tg := newTarget(t, pub)
		tg.respond = func(n int) int {
			if n == 2 || n == 5 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}
		counts := make([]int, 40)
		for i := range counts {
			counts[i] = 1 + i%3
		}
		want, _ := history(t, s, counts) // no targets: nothing queued
		users := startReplay(t, s, tg.srv.URL)
		cfg := fastConfig(tg.srv.URL)
		cfg.BatchSize, cfg.MaxBatchBytes = 8, 1000 // the byte limit cuts batches to about three
		obs := newObserver()
		run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer, Observer: obs})
		changed, _ := history(t, s, []int{2}, tg.srv.URL) // a change during the replay
		for id, vs := range changed {
			want[id] = vs
		}
		eventually(t, "every user arrived at its last version and the replay ended", func() bool {
			_, n := pending(t, s, tg.srv.URL)
			return len(tg.lastVersions()) == len(want) && n == 0 && len(replays(t, s)) == 0
		})
		got := tg.lastVersions()
		for id, vs := range want {
			if got[id] != vs[len(vs)-1] {
				t.Errorf("user %s: last version acknowledged %d, want %d", id, got[id], vs[len(vs)-1])
			}
		}
		tg.check(t, nil, false)
		if tg.maxBody > 1000 {
			t.Errorf("largest body %d bytes; want at most 1000", tg.maxBody)
		}
		if d, f := obs.get(obs.delivered, tg.srv.URL), obs.get(obs.failCalls, tg.srv.URL); d < users || f != 2 {
			t.Errorf("observer saw %d delivered and %d failed calls, want at least %d and 2", d, f, users)
		}
	})
}

// TestReplicasShareAReplay runs two relays on two connection pools of one database, like two
// replicas: the replay's lease gives every page to one of them, so each user arrives once.
func TestReplicasShareAReplay(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			u := testdb.SQLiteURL(t)
			if dialect == "postgres" {
				u = testdb.PostgresURL(t)
			}
			a, b := store.New(testdb.Open(t, u, db.AuthSchema)), store.New(testdb.Open(t, u, db.AuthSchema))
			issuer, pub := newSigner(t)
			tg := newTarget(t, pub)
			want, _ := history(t, a, make1s(50))
			startReplay(t, a, tg.srv.URL)
			for _, s := range []*store.Store{a, b} {
				cfg := fastConfig(tg.srv.URL)
				cfg.BatchSize = 4
				run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer})
			}
			eventually(t, "every user arrived and the replay ended", func() bool {
				return tg.ackedCount() == len(want) && len(replays(t, a)) == 0
			})
			tg.check(t, want, true)
		})
	}
}

func make1s(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// TestStoppedRelayReleasesReplay stops a relay while its call to a target hangs: the replay's
// lease (an hour) is given back at once, and another replica finishes the replay without
// waiting for the lease to end.
func TestStoppedRelayReleasesReplay(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	s := store.New(d)
	issuer, pub := newSigner(t)
	tg := newTarget(t, pub)
	tg.hang = make(chan struct{})
	unhang := sync.OnceFunc(func() { close(tg.hang) })
	t.Cleanup(unhang)
	want, _ := history(t, s, make1s(5))
	startReplay(t, s, tg.srv.URL)
	cfg := fastConfig(tg.srv.URL)
	cfg.Lease = time.Hour
	r := syncrelay.New(cfg, syncrelay.Deps{Store: s, Tokens: issuer})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	eventually(t, "the first relay holds the replay", func() bool {
		rs := replays(t, s)
		return len(rs) == 1 && rs[0].LeaseUntil.After(time.Now().Add(time.Minute))
	})
	cancel()
	<-done
	if rs := replays(t, s); len(rs) != 1 || rs[0].LeaseUntil.After(time.Now()) || rs[0].Sent != 0 {
		t.Fatalf("after the relay stopped: %+v; want the replay unsent and free", rs)
	}
	unhang()
	run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer})
	// The hung call may still be answered once released (whether the target noticed the
	// first relay going away is a race), so users are counted, not events.
	eventually(t, "the second relay finished the replay", func() bool {
		return len(tg.lastVersions()) == len(want) && len(replays(t, s)) == 0
	})
	tg.check(t, want, false)
}
