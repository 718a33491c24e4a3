package keys

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrTooEarly is matched (errors.Is) by a [*TooEarlyError]: the next key has
	// not been published long enough to start signing.
	ErrTooEarly = errors.New("keys: next key not published long enough")
	// ErrNoNextKey means the key set has no next key to promote.
	ErrNoNextKey = errors.New("keys: no next key")
	// ErrNoFreshKey means an operation needed more fresh keys than it was given.
	ErrNoFreshKey = errors.New("keys: fresh key required")
	// ErrUnknownKey means no key has the given kid.
	ErrUnknownKey = errors.New("keys: unknown key")
	// ErrAlreadyRevoked means the key was revoked before.
	ErrAlreadyRevoked = errors.New("keys: key already revoked")
	// ErrInvalidKeys is wrapped by every error of [Check].
	ErrInvalidKeys = errors.New("keys: invalid key set")
	// ErrInvalidPolicy is wrapped by every error of [Policy.Validate].
	ErrInvalidPolicy = errors.New("keys: invalid policy")
	// ErrUnsupportedAlg means the algorithm is not ES256, RS256 or EdDSA.
	ErrUnsupportedAlg = errors.New("keys: unsupported algorithm")
	// ErrBadKEK means a key-encryption key is not 32 bytes in hex or base64.
	ErrBadKEK = errors.New("keys: key-encryption key must be 32 bytes, as 64 hex characters or base64")
	// ErrUnseal means a sealed private key could not be opened: wrong
	// key-encryption key, wrong kid, or tampered bytes.
	ErrUnseal = errors.New("keys: cannot unseal private key")
)

// TooEarlyError is returned by [Rotate] without force while the next key has
// been published for less than the policy's PublishAhead. Wait is how long
// until the rotation is allowed. It matches [ErrTooEarly] with errors.Is.
type TooEarlyError struct {
	Wait time.Duration
}

// Error reports the time to wait.
func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("%v; retry in %v or force", ErrTooEarly, e.Wait)
}

// Unwrap returns [ErrTooEarly].
func (e *TooEarlyError) Unwrap() error { return ErrTooEarly }
