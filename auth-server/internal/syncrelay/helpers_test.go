package syncrelay_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/internal/syncevent"
	"github.com/jwtauth/jwtauth/internal/testdb"
)

const testIssuer = "https://auth.test"

// esKey is a tokens.KeySource over one ES256 key.
type esKey struct{ priv *ecdsa.PrivateKey }

func (k esKey) SigningKey() (jose.SigningKey, error) {
	return jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.priv, KeyID: "k1", Algorithm: "ES256"}}, nil
}

func newSigner(t testing.TB) (*tokens.Issuer, *ecdsa.PublicKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tokens.NewIssuer(testIssuer, []string{"resource-server"}, time.Minute, esKey{priv}, time.Now), &priv.PublicKey
}

// verifySync checks a sync token the way a target must: ES256 only, typ sync+jwt, issuer,
// audience user-sync, time, and the hash of the body it came with.
func verifySync(raw string, pub *ecdsa.PublicKey, body []byte) error {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return err
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != syncevent.TokenType {
		return fmt.Errorf("typ %q, want %q", typ, syncevent.TokenType)
	}
	var c jwt.Claims
	var h struct {
		BodyHash string `json:"body_sha256"`
	}
	if err := tok.Claims(pub, &c, &h); err != nil {
		return err
	}
	if h.BodyHash != syncevent.BodyHash(body) {
		return errors.New("body_sha256 does not match the body")
	}
	return c.ValidateWithLeeway(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{syncevent.Audience}, Time: time.Now()}, 0)
}

// target is a fake sync target that applies events like a real one would and records what
// it acknowledged. respond picks the status of the n-th call (1-based); hang, when set, holds
// every call until it is closed or the caller gives up.
type target struct {
	srv     *httptest.Server
	pub     *ecdsa.PublicKey
	respond func(n int) int
	hang    chan struct{}

	mu        sync.Mutex
	calls     int
	maxBody   int64
	acked     map[string]int     // event id -> times acknowledged
	order     map[string][]int64 // user id -> versions acknowledged, in order
	badTokens []error
}

func newTarget(t testing.TB, pub *ecdsa.PublicKey) *target {
	t.Helper()
	tg := &target{pub: pub, acked: map[string]int{}, order: map[string][]int64{}}
	tg.srv = httptest.NewServer(tg)
	t.Cleanup(tg.srv.Close)
	return tg
}

// startAt serves tg on addr (a port that was refused until now).
func (tg *target) startAt(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	tg.srv = httptest.NewUnstartedServer(tg)
	_ = tg.srv.Listener.Close()
	tg.srv.Listener = ln
	tg.srv.Start()
	t.Cleanup(tg.srv.Close)
}

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || auth[:7] != "Bearer " {
		tg.bad(errors.New("no bearer token"))
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if err := verifySync(auth[7:], tg.pub, body); err != nil {
		tg.bad(err)
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	var b syncevent.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if tg.hang != nil {
		select {
		case <-tg.hang:
		case <-r.Context().Done():
			return
		}
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.calls++
	tg.maxBody = max(tg.maxBody, r.ContentLength)
	status := http.StatusOK
	if tg.respond != nil {
		status = tg.respond(tg.calls)
	}
	if status/100 == 2 {
		for _, e := range b.Events {
			tg.acked[e.ID]++
			tg.order[e.User.ID] = append(tg.order[e.User.ID], e.User.Version)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("status from fake target\n"))
}

func (tg *target) bad(err error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.badTokens = append(tg.badTokens, err)
}

// ackedCount returns how many distinct events were acknowledged.
func (tg *target) ackedCount() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.acked)
}

// check fails t unless every event was acknowledged at most once (exactly once when exact),
// each user's versions arrived in want's order, and every call carried a valid sync token.
func (tg *target) check(t testing.TB, want map[string][]int64, exact bool) {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, err := range tg.badTokens {
		t.Errorf("call with a bad sync token: %v", err)
	}
	for id, n := range tg.acked {
		if exact && n != 1 {
			t.Errorf("event %s acknowledged %d times, want once", id, n)
		}
	}
	for user, versions := range want {
		got := tg.order[user]
		if !exact {
			got = dedupe(got)
		}
		if fmt.Sprint(got) != fmt.Sprint(versions) {
			t.Errorf("user %s: versions acknowledged %v, want %v", user, got, versions)
		}
	}
}

func dedupe(vs []int64) []int64 {
	var out []int64
	for _, v := range vs {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// history creates users in s with the given number of versions each (a user with a
// negative count is deleted after its -count-1 updates), all with pending deliveries to
// targets; it returns the versions each target must see per user, and the event count.
func history(t testing.TB, s *store.Store, counts []int, targets ...string) (map[string][]int64, int) {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC()
	want, events := map[string][]int64{}, 0
	for _, c := range counts {
		name := testdb.Name("u")
		u := store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: "h",
			Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u, targets); err != nil {
			t.Fatal(err)
		}
		want[u.ID] = []int64{1}
		n := max(c, -c)
		for v := int64(2); v <= int64(n); v++ {
			if c < 0 && v == int64(n) {
				if err := s.DeleteUser(ctx, u.ID, now, targets, store.AuditEvent{At: now, Event: store.AuditUserDeleted, UserID: u.ID}); err != nil {
					t.Fatal(err)
				}
			} else if _, err := s.UpdateUser(ctx, u.ID, now, targets, func(x *store.User) error { x.Email = "x" + x.Email; return nil }, store.AuditEvent{At: now, Event: store.AuditUserUpdated, UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			want[u.ID] = append(want[u.ID], v)
		}
		events += n
	}
	return want, events
}

// fastConfig has test-sized timings.
func fastConfig(targets ...string) syncrelay.Config {
	return syncrelay.Config{Targets: targets, RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond,
		RequestTimeout: 5 * time.Second, PollInterval: 5 * time.Millisecond, StatsInterval: 10 * time.Millisecond}
}

// run starts the relay until the test ends.
func run(t testing.TB, cfg syncrelay.Config, deps syncrelay.Deps) *syncrelay.Relay {
	t.Helper()
	r := syncrelay.New(cfg, deps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// eventually polls cond until it holds, failing t after a deadline generous for a busy box.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// observer records the relay's measurements.
type observer struct {
	mu        sync.Mutex
	delivered map[string]int
	failed    map[string]int
	failCalls map[string]int
	backlog   map[string]int
}

func newObserver() *observer {
	return &observer{delivered: map[string]int{}, failed: map[string]int{}, failCalls: map[string]int{}, backlog: map[string]int{}}
}

func (o *observer) Backlog(target string, pending int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.backlog[target] = pending
}

func (o *observer) Delivered(target string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.delivered[target] += n
}

func (o *observer) Failed(target string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed[target] += n
	o.failCalls[target]++
}

func (o *observer) get(m map[string]int, target string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return m[target]
}

// pending returns the undelivered count of target in s.
func pending(t testing.TB, s *store.Store, target string) (store.TargetStatus, int) {
	t.Helper()
	st, err := s.OutboxStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range st {
		if x.Target == target {
			return x, x.Pending
		}
	}
	return store.TargetStatus{}, 0
}
