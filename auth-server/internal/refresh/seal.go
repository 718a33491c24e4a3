package refresh

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrUnseal reports a sealed child that does not open with the presented parent token.
var ErrUnseal = errors.New("refresh: sealed child does not open")

// sealLabel separates the sealing key from the storage hash (Hash uses another label), so the
// stored hash of a token never is, nor reveals, the key that opens its child.
const sealLabel = "jwtauth-refresh-seal:"

// sealAAD binds a ciphertext to its purpose.
const sealAAD = "jwtauth-refresh-child"

// Seal encrypts child under a key derived from parent (AES-256-GCM, key SHA-256 of a label
// and the parent), so that only someone presenting the parent can recover the child, while
// the database keeps only hashes and this ciphertext. A token has 256 random bits, so a plain
// hash is a sufficient key derivation. The result is base64url(nonce || ciphertext).
func Seal(parent, child string) (string, error) {
	aead, err := sealAEAD(parent)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(child)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(child), []byte(sealAAD))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open recovers the child sealed by Seal with the same parent, or returns ErrUnseal.
func Open(parent, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnseal, err)
	}
	aead, err := sealAEAD(parent)
	if err != nil {
		return "", err
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: too short", ErrUnseal)
	}
	n := aead.NonceSize()
	child, err := aead.Open(nil, raw[:n], raw[n:], []byte(sealAAD))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnseal, err)
	}
	return string(child), nil
}

func sealAEAD(parent string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(sealLabel + parent))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal gcm: %w", err)
	}
	return aead, nil
}
