package mail

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// tokenBytes is the entropy of a mail token: 256 bits (the contract asks for at least 128).
const tokenBytes = 32

// NewToken returns a fresh token for a mail's link and the hash under which it is stored.
func NewToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a mail token: SHA-256 under a label of its own (so it can
// never be taken for a refresh token's hash), base64url. 256 random bits need no slow hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte("jwtauth-mail-token:" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PlausibleToken reports whether s can be a token of NewToken (43 base64url characters), so
// that anything else is refused without a database read.
func PlausibleToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}
