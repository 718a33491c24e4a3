package mail

import (
	"encoding/base64"

	"github.com/jwtauth/jwtauth/internal/opaque"
)

// tokenBytes is the entropy of a mail token: 256 bits (the contract asks for at least 128).
const tokenBytes = opaque.Bytes

// tokenLabel labels the stored hashes of mail tokens (never taken for a refresh token's).
const tokenLabel = "jwtauth-mail-token:"

// NewToken returns a fresh token for a mail's link and the hash under which it is stored.
func NewToken() (token, hash string, err error) { return opaque.New(tokenLabel) }

// HashToken is the stored form of a mail token (opaque.Hash under the mail label).
func HashToken(token string) string { return opaque.Hash(tokenLabel, token) }

// PlausibleToken reports whether s can be a token of NewToken (43 base64url characters), so
// that anything else is refused without a database read.
func PlausibleToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
