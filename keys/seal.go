package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// kekSize is the size of a key-encryption key: AES-256.
const kekSize = 32

// sealVersion is the first byte of every sealed blob, so that the format can
// change later without ambiguity.
const sealVersion byte = 1

// Sealer seals private keys at rest with AES-256-GCM under a key-encryption
// key (KEK). Each blob is a version byte, a random 96-bit nonce, the
// ciphertext and the tag; the kid is the additional authenticated data, so a
// blob opens only under the kid it was sealed for. A Sealer is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// ParseKEK decodes a key-encryption key given as 64 hex characters or as
// base64 (standard or URL alphabet, padded or not) of 32 bytes. Surrounding
// whitespace is ignored. The error wraps [ErrBadKEK] and never contains s.
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*kekSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	encs := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for _, enc := range encs {
		if b, err := enc.DecodeString(s); err == nil && len(b) == kekSize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w (got %d characters)", ErrBadKEK, len(s))
}

// NewSealer returns a Sealer for a 32-byte key-encryption key (see
// [ParseKEK]); any other length wraps [ErrBadKEK].
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != kekSize {
		return nil, fmt.Errorf("%w (got %d bytes)", ErrBadKEK, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: new sealer: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for the key kid. Each call uses a fresh random
// nonce, so sealing the same plaintext twice gives different bytes.
func (s *Sealer) Seal(kid string, plaintext []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errors.New("keys: seal: nil sealer")
	}
	if kid == "" {
		return nil, errors.New("keys: seal: empty kid")
	}
	out := make([]byte, 1, 1+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	return s.aead.Seal(out, nil, plaintext, []byte(kid)), nil
}

// Open decrypts a blob made by [Sealer.Seal] for the same kid. A wrong
// key-encryption key, a different kid or any changed byte gives an error
// wrapping [ErrUnseal].
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, fmt.Errorf("%w: nil sealer", ErrUnseal)
	}
	if len(sealed) < 1+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: key %q: too short", ErrUnseal, kid)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: key %q: unknown format %d", ErrUnseal, kid, sealed[0])
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: wrong key-encryption key or tampered data: %w", ErrUnseal, kid, err)
	}
	return plain, nil
}
