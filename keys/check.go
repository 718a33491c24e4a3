package keys

import (
	"errors"
	"fmt"
)

// Check returns an error wrapping [ErrInvalidKeys] that describes the first
// violated invariant, or nil. The invariants: every key has a kid (unique), a
// supported alg, a known state, a public JWK, a sealed private key and a
// CreatedAt; a current key has ActivatedAt, a retired key RetiredAt, a revoked
// key RevokedAt, and a next key none of them; there is exactly one current key
// and at most one next key.
func Check(ks []Key) error {
	seen := make(map[string]bool, len(ks))
	counts := map[State]int{}
	for _, k := range ks {
		if k.KID == "" {
			return fmt.Errorf("%w: a key has no kid", ErrInvalidKeys)
		}
		if seen[k.KID] {
			return fmt.Errorf("%w: kid %q appears twice", ErrInvalidKeys, k.KID)
		}
		seen[k.KID] = true
		if err := checkKey(k); err != nil {
			return fmt.Errorf("%w: key %q: %s", ErrInvalidKeys, k.KID, err)
		}
		counts[k.State]++
	}
	if n := counts[StateCurrent]; n != 1 {
		return fmt.Errorf("%w: %d current keys, want exactly 1", ErrInvalidKeys, n)
	}
	if n := counts[StateNext]; n > 1 {
		return fmt.Errorf("%w: %d next keys, want at most 1", ErrInvalidKeys, n)
	}
	return nil
}

// checkKey returns a description of what is wrong with one key, or nil.
func checkKey(k Key) error {
	switch {
	case !supportedAlg(k.Alg):
		return fmt.Errorf("unsupported alg %q", k.Alg)
	case len(k.PublicJWK) == 0:
		return errors.New("no public JWK")
	case len(k.Sealed) == 0:
		return errors.New("no sealed private key")
	case k.CreatedAt.IsZero():
		return errors.New("no created time")
	}
	var missing string
	switch k.State {
	case StateNext:
		if !k.ActivatedAt.IsZero() || !k.RetiredAt.IsZero() || !k.RevokedAt.IsZero() {
			return errors.New("next key has activated, retired or revoked time")
		}
	case StateCurrent:
		if k.ActivatedAt.IsZero() {
			missing = "activated"
		}
	case StateRetired:
		if k.RetiredAt.IsZero() {
			missing = "retired"
		}
	case StateRevoked:
		if k.RevokedAt.IsZero() {
			missing = "revoked"
		}
	default:
		return fmt.Errorf("unknown state %q", k.State)
	}
	if missing != "" {
		return fmt.Errorf("%s key has no %s time", k.State, missing)
	}
	return nil
}
