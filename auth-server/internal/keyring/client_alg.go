package keyring

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jwtauth/jwtauth/keys"
)

// ErrKeySetChanged means the key set changed between the read that prepared a change and the
// transaction that applies it, in a way the change was not prepared for: try again.
var ErrKeySetChanged = errors.New("the key set changed meanwhile; try again")

// ClientLifecycle prepares the key-set change of registering a client whose ID tokens are
// signed with alg, for store.CreateClientWithKeys (the client and the change commit together).
// When the stored key set has no current key of alg, it generates a current and a next key of
// alg now, before any transaction opens, and the change adds them (the current one signs at
// once: no token of that algorithm was signed before). Otherwise the change leaves the keys as
// they are. Either way the transaction bumps the key set's version, so every replica reloads
// within its poll interval, reads the clients' algorithms with the keys, and from then on
// manages alg's lifecycle (signs with it, rotates it, publishes it).
//
// The change fails with ErrKeySetChanged in the unlikely case that alg's current key
// disappeared (was revoked as an unmanaged lifecycle's) between the read and the transaction.
func (r *Ring) ClientLifecycle(ctx context.Context, alg string) (func(old []keys.Key) ([]keys.Key, error), error) {
	if !keys.Supported(alg) {
		return nil, fmt.Errorf("client key lifecycle: %w: %q", keys.ErrUnsupportedAlg, alg)
	}
	ks, _, err := r.store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("client key lifecycle: %w", err)
	}
	var fresh []keys.Key
	if _, ok := keys.CurrentFor(ks, alg); !ok {
		if fresh, err = r.generateKeys(alg, 2); err != nil {
			return nil, fmt.Errorf("client key lifecycle: %w", err)
		}
	}
	return func(old []keys.Key) ([]keys.Key, error) {
		if _, ok := keys.CurrentFor(old, alg); ok {
			return old, nil
		}
		if fresh == nil {
			return nil, fmt.Errorf("client key lifecycle %s: %w", alg, ErrKeySetChanged)
		}
		out := append(slices.Clone(old), keys.Bootstrap(r.now(), fresh[0], fresh[1])...)
		if err := keys.CheckSet(out); err != nil {
			return nil, fmt.Errorf("client key lifecycle %s: %w", alg, err)
		}
		return out, nil
	}, nil
}
