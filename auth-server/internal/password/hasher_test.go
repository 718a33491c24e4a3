package password

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(small, 2)
	tests := []struct {
		name, stored, given string
		wantOK              bool
	}{
		{"right", "correct horse", "correct horse", true},
		{"wrong", "correct horse", "correct horsf", false},
		{"prefix", "correct horse", "correct hors", false},
		{"longer", "correct horse", "correct horse ", false},
		{"empty given", "correct horse", "", false},
		{"unicode", "pässwörd✓", "pässwörd✓", true},
		{"long is not truncated", strings.Repeat("a", 100), strings.Repeat("a", 72), false},
		{"long", strings.Repeat("a", 256), strings.Repeat("a", 256), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := h.Hash(ctx, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, tt.given, enc)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash {
				t.Errorf("Verify = %v, %v; want %v, false", ok, rehash, tt.wantOK)
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := NewHasher(small, 1)
	a, errA := h.Hash(context.Background(), "pw")
	b, errB := h.Hash(context.Background(), "pw")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
}

func TestDefaultParamsHash(t *testing.T) {
	h := NewHasher(DefaultParams(), 0)
	enc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Errorf("Hash = %q, want prefix %q", enc, want)
	}
	ok, rehash, err := h.Verify(context.Background(), "correct horse battery staple", enc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := context.Background()
	enc, err := NewHasher(small, 1).Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mod        func(*Params)
		password   string
		wantOK     bool
		wantRehash bool
	}{
		{"same params", func(*Params) {}, "pw", true, false},
		{"memory", func(p *Params) { p.Memory = 128 }, "pw", true, true},
		{"time", func(p *Params) { p.Time = 2 }, "pw", true, true},
		{"threads", func(p *Params) { p.Threads = 2 }, "pw", true, true},
		{"key length", func(p *Params) { p.KeyLen = 64 }, "pw", true, true},
		{"salt length", func(p *Params) { p.SaltLen = 32 }, "pw", true, true},
		{"wrong password", func(p *Params) { p.Memory = 128 }, "nope", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := small
			tt.mod(&p)
			ok, rehash, err := NewHasher(p, 1).Verify(ctx, tt.password, enc)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestVerifyDummyDoesOneDerivationWithHasherParams(t *testing.T) {
	p := Params{Memory: 128, Time: 2, Threads: 2, KeyLen: 32, SaltLen: 16}
	h := NewHasher(p, 1)
	var calls []Params
	h.derive = func(pw, salt []byte, got Params) []byte {
		calls = append(calls, got)
		if len(salt) != int(p.SaltLen) {
			t.Errorf("dummy salt has %d bytes, want %d", len(salt), p.SaltLen)
		}
		return deriveArgon2id(pw, salt, got)
	}
	h.VerifyDummy(context.Background(), "pw")
	if len(calls) != 1 || calls[0] != p {
		t.Errorf("VerifyDummy derived with %+v, want exactly one derivation with %+v", calls, p)
	}
	// The dummy hash is one that Verify accepts as well formed and that the
	// password does not match.
	ok, _, err := h.Verify(context.Background(), "pw", h.dummy)
	if err != nil || ok {
		t.Errorf("Verify(dummy) = %v, %v; want false, nil", ok, err)
	}
}

// blockingDerive replaces h.derive with one that counts the derivations in
// progress, records their peak, and holds each until release is closed.
func blockingDerive(h *Hasher, release <-chan struct{}) (active, peak *atomic.Int64) {
	active, peak = new(atomic.Int64), new(atomic.Int64)
	h.derive = func(pw, salt []byte, p Params) []byte {
		n := active.Add(1)
		defer active.Add(-1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		<-release
		return deriveArgon2id(pw, salt, p)
	}
	return active, peak
}

func TestHasherBoundsConcurrency(t *testing.T) {
	const workers, calls = 2, 64
	h := NewHasher(small, workers)
	release := make(chan struct{})
	active, peak := blockingDerive(h, release)
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := h.Hash(context.Background(), "pw")
			errs <- err
		}()
	}
	waitFor(t, "2 running and 62 waiting", func() bool {
		r, w := h.Stats()
		return r == workers && w == calls-workers && active.Load() == workers
	})
	close(release)
	for range calls {
		if err := <-errs; err != nil {
			t.Errorf("Hash: %v", err)
		}
	}
	if got := peak.Load(); got != workers {
		t.Errorf("peak concurrent derivations = %d, want %d", got, workers)
	}
	if r, w := h.Stats(); r != 0 || w != 0 {
		t.Errorf("Stats after all done = %d, %d; want 0, 0", r, w)
	}
}

func TestHasherCancelWhileWaiting(t *testing.T) {
	h := NewHasher(small, 1)
	release := make(chan struct{})
	active, _ := blockingDerive(h, release)
	first := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "pw")
		first <- err
	}()
	waitFor(t, "first hash running", func() bool { return active.Load() == 1 })

	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"hash", func(ctx context.Context) error { _, err := h.Hash(ctx, "pw"); return err }},
		{"verify", func(ctx context.Context) error { _, _, err := h.Verify(ctx, "pw", refSmall); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tt.call(ctx) }()
			waitFor(t, "one waiting", func() bool { _, w := h.Stats(); return w == 1 })
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("cancelled call still waiting after 5s")
			}
			if r, w := h.Stats(); r != 1 || w != 0 {
				t.Errorf("Stats = %d, %d; want 1, 0", r, w)
			}
		})
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Hash: %v", err)
	}
}

func TestHasherCancelledContextDoesNoWork(t *testing.T) {
	h := NewHasher(small, 1)
	var derived atomic.Int64
	h.derive = func(pw, salt []byte, p Params) []byte { derived.Add(1); return deriveArgon2id(pw, salt, p) }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash err = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "pw", refSmall); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify err = %v, want context.Canceled", err)
	}
	if n := derived.Load(); n != 0 {
		t.Errorf("%d derivations with a cancelled context, want 0", n)
	}
}

// TestHasherReleasesMemoryOnceIdle: after a burst of hashes, the Hasher hands the heap's
// free memory back once, when no hash has run for releaseAfter (see ReleaseAfter), and again
// after the next burst.
func TestHasherReleasesMemoryOnceIdle(t *testing.T) {
	const workers, calls = 2, 16
	h := NewHasher(small, workers)
	var releases atomic.Int64
	h.release = func() {
		if r, w := h.Stats(); r != 0 || w != 0 {
			t.Errorf("released with %d hashes running and %d waiting", r, w)
		}
		releases.Add(1)
	}
	h.releaseAfter = 20 * time.Millisecond
	gate := make(chan struct{})
	blockingDerive(h, gate)
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := h.Hash(context.Background(), "pw")
			errs <- err
		}()
	}
	waitFor(t, "the burst queued", func() bool { r, w := h.Stats(); return r == workers && w == calls-workers })
	if n := releases.Load(); n != 0 {
		t.Fatalf("%d releases while the burst runs", n)
	}
	close(gate)
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a release after the burst", func() bool { return releases.Load() >= 1 })
	if n := releases.Load(); n != 1 {
		t.Errorf("%d releases after one burst, want 1", n)
	}
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a release after the next hash", func() bool { return releases.Load() == 2 })
}
