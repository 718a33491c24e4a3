package password

import "strings"

// CheckHash reports whether encoded is a hash Verify can check: an argon2id PHC string or a
// bcrypt $2a$, $2b$ or $2y$ hash of an accepted cost, without checking any password. Its error
// wraps ErrMalformedHash and never quotes the hash. For hashes moved in from another system.
func CheckHash(encoded string) error {
	if isBcrypt(encoded) {
		if len(encoded) != 60 || encoded[6] != '$' {
			return malformed("bcrypt: want $2b$NN$ and 53 characters of salt and hash")
		}
		if cost, err := parseDecimal(encoded[4:6], 8); err != nil || cost < 4 || cost > bcryptMaxCost {
			return malformed("bcrypt: cost must be 4..16")
		}
		return nil
	}
	if !strings.HasPrefix(encoded, "$argon2") {
		return malformed("unknown hash format (want argon2id PHC or bcrypt $2a$, $2b$, $2y$)")
	}
	_, err := decodePHC(encoded)
	return err
}
