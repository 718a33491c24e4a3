// Package opaque makes the auth server's opaque tokens (refresh tokens, the links of mails,
// authorization codes, login cookies): 256 random bits in base64url, stored only as a SHA-256
// under a label of their kind, so a token of one kind can never be taken for another's hash.
// 256 random bits need no slow hash: there is nothing to brute-force.
package opaque

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Bytes is a token's entropy: 256 bits.
const Bytes = 32

// New returns a fresh token and its hash under label.
func New(label string) (token, hash string, err error) {
	b := make([]byte, Bytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(label, token), nil
}

// Hash is the stored form of token: SHA-256 of label followed by the token, base64url.
func Hash(label, token string) string {
	sum := sha256.Sum256([]byte(label + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
