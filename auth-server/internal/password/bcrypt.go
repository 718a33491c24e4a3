package password

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxLen is the number of password bytes bcrypt reads; the rest
// never mattered to the Python system (passlib truncated silently).
const bcryptMaxLen = 72

// bcryptMaxCost bounds the work a stored hash can ask for: cost 16 is about
// 4 s on one core (imported hashes are cost 12, about 0.25 s); a higher
// cost would hold a hashing slot for minutes or days.
const bcryptMaxCost = 16

// isBcrypt reports whether s looks like a modular-crypt bcrypt hash of a
// variant we accept: $2a$, $2b$ (passlib's default) or $2y$. $2x$ (the
// crypt_blowfish sign-extension bug) and the original $2$ are not accepted.
func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// bcryptTruncate returns the bytes bcrypt actually reads: the first 72 bytes
// of the UTF-8 password, cut as bytes (possibly inside a character), exactly
// as passlib did.
func bcryptTruncate(password string) []byte {
	b := []byte(password)
	if len(b) > bcryptMaxLen {
		b = b[:bcryptMaxLen]
	}
	return b
}

// verifyBcrypt checks password against a bcrypt hash in constant time.
// x/crypto/bcrypt refuses to hash passwords over 72 bytes, so the password
// is truncated here, before comparing.
func verifyBcrypt(encoded, password string) (bool, error) {
	if len(encoded) != 60 || encoded[6] != '$' {
		return false, malformed("bcrypt: want $2b$NN$ and 53 characters of salt and hash")
	}
	cost, err := parseDecimal(encoded[4:6], 8)
	if err != nil || cost < uint64(bcrypt.MinCost) || cost > bcryptMaxCost {
		return false, malformed(fmt.Sprintf("bcrypt: cost must be %d..%d", bcrypt.MinCost, bcryptMaxCost))
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), bcryptTruncate(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
	}
}
