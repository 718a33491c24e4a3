package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// RecoveryCodes is how many recovery codes an enrolment gives.
const RecoveryCodes = 10

// recoveryBytes is the randomness of one recovery code: 80 bits, so that its SHA-256 hash
// cannot be reversed by trying every code (the codes are random, like refresh tokens, so a
// slow password hash would add nothing but cost).
const recoveryBytes = 10

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryCodes returns RecoveryCodes fresh codes, each 16 lower-case base32 characters in
// four groups ("abcd-efgh-ijkl-mnop"), to be shown once.
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCodes)
	for i := range out {
		b := make([]byte, recoveryBytes)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		s := strings.ToLower(recoveryEncoding.EncodeToString(b))
		out[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	return out
}

// NormalizeRecovery is a typed recovery code as it was made: letter case, spaces and dashes
// ignored.
func NormalizeRecovery(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, code)
}

// HashRecovery is the stored form of userID's recovery code (normalized first): SHA-256 of
// the user id and the code, so that equal codes of two users never share a hash.
func HashRecovery(userID, code string) string {
	sum := sha256.Sum256([]byte(userID + "\x00" + NormalizeRecovery(code)))
	return hex.EncodeToString(sum[:])
}

// LooksLikeRecovery reports whether code, normalized, has the form of a recovery code.
func LooksLikeRecovery(code string) bool {
	n := NormalizeRecovery(code)
	if len(n) != 16 {
		return false
	}
	_, err := recoveryEncoding.DecodeString(strings.ToUpper(n))
	return err == nil
}
