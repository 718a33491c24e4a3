package syncrelay_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

func TestDeliversEveryEventInOrder(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		issuer, pub := newSigner(t)
		tg := newTarget(t, pub)
		want, events := history(t, s, []int{3, -2, 1, 1, 1}, tg.srv.URL)
		obs := newObserver()
		run(t, fastConfig(tg.srv.URL), syncrelay.Deps{Store: s, Tokens: issuer, Observer: obs})
		eventually(t, "every event is acknowledged and marked delivered", func() bool {
			_, n := pending(t, s, tg.srv.URL)
			return tg.ackedCount() == events && n == 0
		})
		tg.check(t, want, true)
		if got := obs.get(obs.delivered, tg.srv.URL); got != events {
			t.Errorf("observer saw %d delivered, want %d", got, events)
		}
	})
}

// TestRetriesUntilAcknowledged has the target refuse the first three calls: every event
// still arrives once in effect, in order per user, and each failure is recorded.
func TestRetriesUntilAcknowledged(t *testing.T) {
	cases := []struct {
		name   string
		status int
	}{
		{"server error", http.StatusInternalServerError},
		{"unauthorized", http.StatusUnauthorized},
		{"redirect is not followed", http.StatusTemporaryRedirect},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
				s := store.New(d)
				issuer, pub := newSigner(t)
				tg := newTarget(t, pub)
				elsewhere := newTarget(t, pub)
				url := tg.srv.URL
				if tc.status == http.StatusTemporaryRedirect {
					front := httptest.NewServer(redirectFirst(3, elsewhere.srv.URL, tg))
					t.Cleanup(front.Close)
					url = front.URL
				} else {
					tg.respond = func(n int) int {
						if n <= 3 {
							return tc.status
						}
						return http.StatusOK
					}
				}
				want, events := history(t, s, []int{3, 1, 2}, url)
				obs := newObserver()
				run(t, fastConfig(url), syncrelay.Deps{Store: s, Tokens: issuer, Observer: obs})
				eventually(t, "every event is acknowledged and marked delivered", func() bool {
					_, n := pending(t, s, url)
					return tg.ackedCount() == events && n == 0
				})
				tg.check(t, want, true)
				if got := obs.get(obs.failCalls, url); got != 3 {
					t.Errorf("observer saw %d failed calls, want 3", got)
				}
				var attempts, dirty int
				_ = d.Get(&attempts, `SELECT coalesce(sum(attempts), 0) FROM outbox_deliveries`)
				_ = d.Get(&dirty, `SELECT count(*) FROM outbox_deliveries WHERE last_error <> '' OR delivered_at = 0`)
				if want := obs.get(obs.failed, url); attempts != want || attempts == 0 {
					t.Errorf("recorded %d failed attempts, want %d (the events of the failed calls)", attempts, want)
				}
				if dirty != 0 {
					t.Errorf("%d delivered rows keep an error or are not marked", dirty)
				}
				if n := elsewhere.ackedCount(); n != 0 {
					t.Errorf("a redirect was followed: %d events reached its location", n)
				}
			})
		})
	}
}

// redirectFirst answers the first n calls with a redirect to location, then hands over to next.
func redirectFirst(n int, location string, next http.Handler) http.Handler {
	var calls atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= int32(n) {
			http.Redirect(w, r, location, http.StatusTemporaryRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestTargetDownThenUp(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		issuer, pub := newSigner(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close() // the target is down: connections are refused
		url := "http://" + addr + "/sync/users"
		want, events := history(t, s, []int{2, 1, 1}, url)
		obs := newObserver()
		run(t, fastConfig(url), syncrelay.Deps{Store: s, Tokens: issuer, Observer: obs})
		eventually(t, "failures are recorded while the target is down", func() bool {
			st, _ := pending(t, s, url)
			return st.OldestAttempts >= 2 && strings.Contains(st.OldestLastError, "refused") && obs.get(obs.backlog, url) == events
		})
		tg := &target{pub: pub, acked: map[string]int{}, order: map[string][]int64{}}
		tg.startAt(t, addr)
		eventually(t, "every event arrives once the target is up", func() bool {
			_, n := pending(t, s, url)
			return tg.ackedCount() == events && n == 0
		})
		tg.check(t, want, true)
		eventually(t, "the backlog is reported empty", func() bool { return obs.get(obs.backlog, url) == 0 })
	})
}

// TestSlowTargetDoesNotHoldOthers has one target hang (each call times out) while another
// gets every event; once the slow one answers, it gets them all too.
func TestSlowTargetDoesNotHoldOthers(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		issuer, pub := newSigner(t)
		slow, fast := newTarget(t, pub), newTarget(t, pub)
		slow.hang = make(chan struct{})
		want, events := history(t, s, []int{1, 2, 1, 1, 3}, slow.srv.URL, fast.srv.URL)
		cfg := fastConfig(slow.srv.URL, fast.srv.URL)
		// The timeout ends the slow target's calls; it holds for the fast target's too, whose
		// calls a loaded machine can make that slow, and sends them again (checked below as
		// at least once: exactly once is TestReplicasShareTheOutbox's).
		cfg.RequestTimeout = 500 * time.Millisecond
		run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer})
		eventually(t, "the fast target has every event", func() bool {
			_, n := pending(t, s, fast.srv.URL)
			return fast.ackedCount() == events && n == 0
		})
		if n := slow.ackedCount(); n != 0 {
			t.Fatalf("slow target acknowledged %d events while hanging", n)
		}
		fast.check(t, want, false)
		close(slow.hang)
		eventually(t, "the slow target has every event once it answers", func() bool {
			_, n := pending(t, s, slow.srv.URL)
			return slow.ackedCount() == events && n == 0
		})
		// A call that timed out at the relay may still have been applied: at least once.
		slow.check(t, want, false)
	})
}

// countingStore counts claims, to know when a worker has gone idle.
type countingStore struct {
	*store.Store
	claims atomic.Int64
}

func (c *countingStore) ClaimDeliveries(ctx context.Context, target string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	defer c.claims.Add(1)
	return c.Store.ClaimDeliveries(ctx, target, now, lease, limit)
}

func TestNotifyWakesIdleWorker(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	cs := &countingStore{Store: store.New(d)}
	issuer, pub := newSigner(t)
	tg := newTarget(t, pub)
	cfg := fastConfig(tg.srv.URL)
	cfg.PollInterval = time.Hour // only Notify can wake it
	r := run(t, cfg, syncrelay.Deps{Store: cs, Tokens: issuer})
	eventually(t, "the worker found nothing to do", func() bool { return cs.claims.Load() >= 1 })
	want, events := history(t, cs.Store, []int{1, 1}, tg.srv.URL)
	r.Notify()
	eventually(t, "the notified worker delivers", func() bool { return tg.ackedCount() == events })
	tg.check(t, want, true)
}

// TestReplicasShareTheOutbox runs two relays on two connection pools of one database, like
// two replicas: every event reaches the target exactly once, in order per user.
func TestReplicasShareTheOutbox(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			u := testdb.SQLiteURL(t)
			if dialect == "postgres" {
				u = testdb.PostgresURL(t)
			}
			a, b := store.New(testdb.Open(t, u, db.AuthSchema)), store.New(testdb.Open(t, u, db.AuthSchema))
			issuer, pub := newSigner(t)
			tg := newTarget(t, pub)
			counts := make([]int, 30)
			for i := range counts {
				counts[i] = 1 + i%3
			}
			want, events := history(t, a, counts, tg.srv.URL)
			for _, s := range []*store.Store{a, b} {
				cfg := fastConfig(tg.srv.URL)
				cfg.BatchSize = 4
				run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer})
			}
			eventually(t, "every event is acknowledged", func() bool {
				_, n := pending(t, a, tg.srv.URL)
				return tg.ackedCount() == events && n == 0
			})
			tg.check(t, want, true)
		})
	}
}

func TestPurgesDeliveredRows(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	s := store.New(d)
	issuer, pub := newSigner(t)
	tg := newTarget(t, pub)
	_, events := history(t, s, []int{2, 1}, tg.srv.URL)
	cfg := fastConfig(tg.srv.URL)
	cfg.Retention, cfg.CleanupInterval = time.Millisecond, 10*time.Millisecond
	run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer})
	eventually(t, "delivered rows are purged", func() bool {
		var rows int
		_ = d.Get(&rows, `SELECT (SELECT count(*) FROM outbox_events) + (SELECT count(*) FROM outbox_deliveries)`)
		return tg.ackedCount() == events && rows == 0
	})
}

func TestBatchesStayUnderByteLimit(t *testing.T) {
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	s := store.New(d)
	issuer, pub := newSigner(t)
	tg := newTarget(t, pub)
	want, events := history(t, s, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3}, tg.srv.URL)
	cfg := fastConfig(tg.srv.URL)
	cfg.MaxBatchBytes = 1000 // about three events
	rs := &releaseCounter{Store: s}
	run(t, cfg, syncrelay.Deps{Store: rs, Tokens: issuer})
	eventually(t, "every event is acknowledged", func() bool {
		_, n := pending(t, s, tg.srv.URL)
		return tg.ackedCount() == events && n == 0
	})
	tg.check(t, want, true)
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.maxBody > 1000 || tg.calls < events/4 {
		t.Errorf("%d calls, largest body %d bytes; want bodies of at most 1000 bytes", tg.calls, tg.maxBody)
	}
	// The worker claims what the limit held last time, instead of claiming more and
	// releasing the rest every round.
	if n := rs.releases.Load(); n > 2 {
		t.Errorf("%d of %d calls released claimed events over the byte limit; want at most 2 (the claims fit)", n, tg.calls)
	}
}

// releaseCounter counts the calls that release claimed deliveries unsent.
type releaseCounter struct {
	*store.Store
	releases atomic.Int64
}

func (c *releaseCounter) ReleaseDeliveries(ctx context.Context, target string, eventIDs []string, now time.Time) error {
	c.releases.Add(1)
	return c.Store.ReleaseDeliveries(ctx, target, eventIDs, now)
}

// TestFullBatchesPipelined has more events than a batch holds, so each full batch's successor
// is claimed while it is sent and its acknowledgement recorded while the next one is: every
// event still arrives exactly once, each user's versions in order. The target refuses some
// calls on the way; the batch claimed ahead of a refused call is released, not lost.
func TestFullBatchesPipelined(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		s := store.New(d)
		issuer, pub := newSigner(t)
		tg := newTarget(t, pub)
		tg.respond = func(n int) int {
			if n == 3 || n == 7 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}
		want, events := history(t, s, []int{4, 1, 3, -3, 1, 2, 1, 5, 1, 1, 2, 1}, tg.srv.URL)
		cfg := fastConfig(tg.srv.URL)
		cfg.BatchSize = 3
		obs := newObserver()
		run(t, cfg, syncrelay.Deps{Store: s, Tokens: issuer, Observer: obs})
		eventually(t, "every event is acknowledged and marked delivered", func() bool {
			_, n := pending(t, s, tg.srv.URL)
			return tg.ackedCount() == events && n == 0
		})
		tg.check(t, want, true)
		if got := obs.get(obs.failCalls, tg.srv.URL); got != 2 {
			t.Errorf("observer saw %d failed calls, want 2", got)
		}
	})
}
