package password

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidParams is wrapped by every error of [ParseParams] and
// [Params.Validate].
var ErrInvalidParams = errors.New("invalid argon2 parameters")

const (
	// maxMemoryKiB is the largest accepted memory cost: 4 GiB in KiB.
	maxMemoryKiB = 4 << 20
	minSaltLen   = 8
	minKeyLen    = 16
	maxLen       = 1024
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // memory in KiB (m)
	Time    uint32 // passes over the memory (t)
	Threads uint8  // lanes (p)
	KeyLen  uint32 // derived key length in bytes
	SaltLen uint32 // salt length in bytes
}

// DefaultParams returns m=19456 (19 MiB), t=2, p=1 with a 32-byte key and
// a 16-byte salt: OWASP's recommended minimum for argon2id.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// String returns the parameters in ARGON2_PARAMS form, "m=19456,t=2,p=1".
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// Validate reports whether p can be used to hash: m, t, p not zero,
// m >= 8*p (argon2's minimum), m <= 4 GiB, a key of 16 to 1024 bytes and a
// salt of 8 to 1024 bytes. The error wraps [ErrInvalidParams].
func (p Params) Validate() error {
	if err := validateCost(p.Memory, p.Time, p.Threads); err != nil {
		return err
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxLen {
		return fmt.Errorf("%w: key length %d outside %d..%d", ErrInvalidParams, p.KeyLen, minKeyLen, maxLen)
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxLen {
		return fmt.Errorf("%w: salt length %d outside %d..%d", ErrInvalidParams, p.SaltLen, minSaltLen, maxLen)
	}
	return nil
}

func validateCost(m, t uint32, p uint8) error {
	switch {
	case t == 0:
		return fmt.Errorf("%w: t must be at least 1", ErrInvalidParams)
	case p == 0:
		return fmt.Errorf("%w: p must be at least 1", ErrInvalidParams)
	case m == 0:
		return fmt.Errorf("%w: m must be at least 1", ErrInvalidParams)
	case m < 8*uint32(p):
		return fmt.Errorf("%w: m=%d KiB is below argon2's minimum of 8*p = %d KiB", ErrInvalidParams, m, 8*uint32(p))
	case m > maxMemoryKiB:
		return fmt.Errorf("%w: m=%d KiB is more than 4 GiB (%d KiB)", ErrInvalidParams, m, maxMemoryKiB)
	}
	return nil
}

// ParseParams parses ARGON2_PARAMS, e.g. "m=19456,t=2,p=1": comma-separated
// key=value pairs in any order, spaces around them allowed. m is memory in
// KiB, t the number of passes, p the lanes (1..255). A key left out keeps
// its value from [DefaultParams]; key and salt lengths are always the
// defaults. Unknown or repeated keys, non-numeric or zero values, m < 8*p and
// m > 4 GiB are rejected with an error wrapping [ErrInvalidParams].
func ParseParams(s string) (Params, error) {
	p := DefaultParams()
	if strings.TrimSpace(s) == "" {
		return Params{}, fmt.Errorf("%w: empty, want e.g. %q", ErrInvalidParams, p.String())
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Params{}, fmt.Errorf("%w: %q is not key=value", ErrInvalidParams, part)
		}
		if seen[key] {
			return Params{}, fmt.Errorf("%w: %s given twice", ErrInvalidParams, key)
		}
		seen[key] = true
		if err := setParam(&p, key, val); err != nil {
			return Params{}, err
		}
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

func setParam(p *Params, key, val string) error {
	bits := 32
	switch key {
	case "m", "t":
	case "p":
		bits = 8
	default:
		return fmt.Errorf("%w: unknown key %q (want m, t, p)", ErrInvalidParams, key)
	}
	n, err := parseDecimal(val, bits)
	if err != nil {
		return fmt.Errorf("%w: %s=%q: %w", ErrInvalidParams, key, val, err)
	}
	switch key {
	case "m":
		p.Memory = uint32(n)
	case "t":
		p.Time = uint32(n)
	case "p":
		p.Threads = uint8(n)
	}
	return nil
}

// parseDecimal parses plain ASCII digits (no sign, no spaces, no base
// prefix) into an unsigned integer of the given bit size.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("out of range for %d bits", bits)
	}
	return n, nil
}
