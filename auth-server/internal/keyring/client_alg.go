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

// algsWith returns the configured lifecycles followed by those of clientAlgs that the ring can
// keep (an asymmetric algorithm keys.Generate knows; anything else in the table is ignored).
func (r *Ring) algsWith(clientAlgs []string) []string {
	out := slices.Clone(r.base)
	for _, a := range clientAlgs {
		if keys.Supported(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// read returns the stored keys, their version and the managed lifecycles, the clients'
// algorithms read after the keys: a client registered with its keys in one transaction
// (store.CreateClientWithKeys) is seen by a read that sees the keys.
func (r *Ring) read(ctx context.Context) ([]keys.Key, int64, []string, error) {
	ks, v, err := r.store.Keys(ctx)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load keys: %w", err)
	}
	ca, err := r.store.ClientIDTokenAlgs(ctx)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load keys: %w", err)
	}
	return ks, v, r.algsWith(ca), nil
}
