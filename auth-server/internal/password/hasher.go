package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and verifies passwords, running at most a fixed number of
// hashes at once. It is safe for concurrent use.
type Hasher struct {
	params  Params
	sem     chan struct{} // one token per running hash
	running atomic.Int64
	waiting atomic.Int64
	dummy   string // argon2id hash with params, matched by no password

	// derive computes an argon2id key. It is argon2.IDKey; tests replace it
	// to observe how many derivations run at once.
	derive func(password, salt []byte, p Params) []byte

	// release hands the heap's free memory back to the OS. It is
	// debug.FreeOSMemory, run once no hash has run for releaseAfter; tests
	// replace both.
	release      func()
	releaseAfter time.Duration
	mu           sync.Mutex
	idle         *time.Timer // armed when the last running hash ends
}

// ReleaseAfter is how long a Hasher waits, after its last hash of a burst
// ends, before it hands the heap's free memory back to the OS.
//
// Each argon2id derivation allocates its m KiB (19 MiB by default) afresh,
// and Go's collector lets the heap grow to twice what was live at its last
// cycle: during a burst of logins, with workers derivations live, the heap
// and the resident memory grow to several times workers × m, and once the
// burst ends, no allocation is left to start the cycle that would see that
// memory free, so the process keeps it (the runtime gives back only what
// lies above its last goal, and forces a cycle only every two minutes).
// The refreshes that follow then fill the same inflated goal with their
// garbage. After ReleaseAfter without a hash, the Hasher runs one collection
// and returns what is free (debug.FreeOSMemory): once per burst, a few
// milliseconds, on a heap then holding no argon2 buffer. Logins closer
// together than ReleaseAfter keep the memory, being the work in flight.
const ReleaseAfter = 2 * time.Second

// NewHasher returns a Hasher that makes argon2id hashes with p and runs at
// most workers hashes (argon2id or bcrypt) at once; workers <= 0 means
// runtime.GOMAXPROCS(0). p should be valid ([Params.Validate]; config
// parses it with [ParseParams]): fields left zero take their [DefaultParams]
// value and other out-of-range values are clamped into range.
func NewHasher(p Params, workers int) *Hasher {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p = normalize(p)
	h := &Hasher{
		params: p,
		sem:    make(chan struct{}, workers),
		derive: deriveArgon2id,

		release:      debug.FreeOSMemory,
		releaseAfter: ReleaseAfter,
	}
	// A random salt and key: verifying any password against it costs one
	// argon2id derivation with p, and fails (but for a 2^-256 chance).
	h.dummy = encodePHC(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen))
	return h
}

func normalize(p Params) Params {
	d := DefaultParams()
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	p.Memory = max(min(p.Memory, maxMemoryKiB), 8*uint32(p.Threads))
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	p.KeyLen = max(min(p.KeyLen, maxLen), minKeyLen)
	p.SaltLen = max(min(p.SaltLen, maxLen), minSaltLen)
	return p
}

func deriveArgon2id(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// randomBytes returns n bytes from crypto/rand, which never fails (it
// crashes the program if the system's generator does).
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Params returns the parameters of the hashes h makes.
func (h *Hasher) Params() Params { return h.params }

// Stats reports how many hashes are running now and how many calls wait
// for a slot (for metrics).
func (h *Hasher) Stats() (running, waiting int) {
	return int(h.running.Load()), int(h.waiting.Load())
}

// run waits for a free slot, then runs fn in it. When ctx ends first it
// returns ctx's error, wrapped, without running fn.
func (h *Hasher) run(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	h.waiting.Add(1)
	select {
	case h.sem <- struct{}{}:
		h.running.Add(1) // before leaving the waiters, so the Hasher never looks idle meanwhile
		h.waiting.Add(-1)
	case <-ctx.Done():
		if h.waiting.Add(-1) == 0 && h.running.Load() == 0 {
			h.armRelease() // the hash that ended before it saw a waiter and did not
		}
		return fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
	defer func() {
		if h.running.Add(-1) == 0 && h.waiting.Load() == 0 {
			h.armRelease()
		}
		<-h.sem
	}()
	fn()
	return nil
}

// armRelease (re)starts the timer that runs release once the Hasher has
// been idle for releaseAfter (see ReleaseAfter).
func (h *Hasher) armRelease() {
	if h.release == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle == nil {
		h.idle = time.AfterFunc(h.releaseAfter, h.releaseIfIdle)
		return
	}
	h.idle.Reset(h.releaseAfter)
}

// releaseIfIdle runs release unless a hash runs or waits again: its end
// will arm the timer anew.
func (h *Hasher) releaseIfIdle() {
	if h.running.Load() == 0 && h.waiting.Load() == 0 {
		h.release()
	}
}

// Hash returns an argon2id PHC string of password with a fresh random salt
// and h's parameters. The only error is ctx ending while waiting for a slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(h.params.SaltLen)
	var key []byte
	if err := h.run(ctx, func() { key = h.derive([]byte(password), salt, h.params) }); err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify checks password against encoded, an argon2id PHC string or a bcrypt
// ($2a$, $2b$, $2y$) hash, comparing in constant time. A wrong password is
// ok=false with a nil error. needsRehash is true only with ok, when the hash
// is bcrypt or argon2id with parameters (m, t, p, key or salt length) other
// than h's: the caller should then store a new [Hasher.Hash] of password.
// bcrypt reads only the first 72 bytes of password, as the system the
// bcrypt hashes come from did. A malformed or unsupported hash is an error
// wrapping [ErrMalformedHash]; ctx ending while waiting for a slot is an
// error wrapping ctx's error.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	if isBcrypt(encoded) {
		var verr error
		if err := h.run(ctx, func() { ok, verr = verifyBcrypt(encoded, password) }); err != nil {
			return false, false, err
		}
		if verr != nil {
			return false, false, verr
		}
		return ok, ok, nil
	}
	if !strings.HasPrefix(encoded, "$argon2") {
		return false, false, malformed("unknown hash format")
	}
	d, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	var key []byte
	if err := h.run(ctx, func() { key = h.derive([]byte(password), d.salt, d.params) }); err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(key, d.key) == 1
	return ok, ok && d.params != h.params, nil
}

// VerifyDummy does the work of a [Hasher.Verify] of a wrong password against
// an argon2id hash with h's parameters, and returns when it is done (or ctx
// ends while waiting). Call it for an unknown user, so that answering takes
// as long as for a known user with a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}
