package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by the error of [Hasher.Verify] when the stored
// hash is neither a well-formed argon2id PHC string nor a bcrypt hash.
var ErrMalformedHash = errors.New("malformed password hash")

// b64 is the PHC encoding: standard alphabet, no padding, canonical
// (non-zero trailing bits rejected).
var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2id hash.
type phc struct {
	params Params // KeyLen and SaltLen are those of key and salt
	salt   []byte
	key    []byte
}

// encodePHC formats an argon2id hash the way the reference implementation
// does: $argon2id$v=19$m=..,t=..,p=..$salt$key.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses an argon2id PHC string strictly: version 19 only, the
// parameters exactly m, t, p in that order, salt 8..1024 bytes, key
// 16..1024 bytes. Errors wrap ErrMalformedHash and never quote the hash.
func decodePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return phc{}, malformed("argon2id: want 5 fields separated by $")
	}
	if parts[1] != "argon2id" {
		return phc{}, malformed("unsupported algorithm")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return phc{}, malformed("argon2id: unsupported version")
	}
	var h phc
	var err error
	if h.params, err = decodeCost(parts[3]); err != nil {
		return phc{}, err
	}
	if h.salt, err = decodeField(parts[4], "salt", minSaltLen); err != nil {
		return phc{}, err
	}
	if h.key, err = decodeField(parts[5], "key", minKeyLen); err != nil {
		return phc{}, err
	}
	h.params.SaltLen = uint32(len(h.salt))
	h.params.KeyLen = uint32(len(h.key))
	return h, nil
}

func decodeCost(s string) (Params, error) {
	fields := strings.Split(s, ",")
	want := []string{"m", "t", "p"}
	if len(fields) != len(want) {
		return Params{}, malformed("argon2id: want parameters m,t,p")
	}
	var vals [3]uint64
	for i, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok || key != want[i] {
			return Params{}, malformed("argon2id: want parameters m,t,p in that order")
		}
		bits := 32
		if key == "p" {
			bits = 8
		}
		n, err := parseDecimal(val, bits)
		if err != nil {
			return Params{}, fmt.Errorf("%w: argon2id: %s: %w", ErrMalformedHash, key, err)
		}
		vals[i] = n
	}
	p := Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := validateCost(p.Memory, p.Time, p.Threads); err != nil {
		return Params{}, fmt.Errorf("%w: argon2id: %w", ErrMalformedHash, err)
	}
	return p, nil
}

func decodeField(s, name string, minLen int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, malformed("argon2id: " + name + " is not unpadded standard base64")
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, malformed(fmt.Sprintf("argon2id: %s length %d outside %d..%d", name, len(b), minLen, maxLen))
	}
	return b, nil
}

func malformed(msg string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, msg)
}
