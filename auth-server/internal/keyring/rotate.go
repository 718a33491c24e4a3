package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/jwtauth/jwtauth/keys"
)

// ErrAlreadyRotated is returned by an automatic rotation when another replica rotated first
// (the reason to rotate had gone by the time the transaction looked): not a failure.
var ErrAlreadyRotated = errors.New("already rotated by another process")

// Result says what a key change left in place.
type Result struct {
	Current, Next, Retired, Revoked string
}

// Rotate promotes the next key, retires the current one and publishes a fresh next key. It
// refuses with a *keys.TooEarlyError while the next key has been published for less than
// KEY_PUBLISH_AHEAD, unless force. A rotation that another process made while this one was
// deciding (the signing key changed under it) gives ErrAlreadyRotated, forced or not: two
// operators (or replicas) rotating at once rotate once.
func (r *Ring) Rotate(ctx context.Context, force bool) (Result, error) {
	before := ""
	if s := r.cur.Load(); s != nil {
		before = s.kid
	}
	var res Result
	_, err := r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		cur, _ := keys.Current(old)
		if before != "" && cur.KID != before {
			return nil, ErrAlreadyRotated
		}
		fresh, err := keys.Generate(r.alg, r.now(), r.sealer)
		if err != nil {
			return nil, err
		}
		out, err := keys.Rotate(old, r.now(), r.policy, force, fresh)
		if err != nil {
			return nil, err
		}
		res = describe(out)
		res.Retired = cur.KID
		return out, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("rotate: %w", err)
	}
	return res, r.Reload(ctx)
}

// Revoke takes kid out of the JWKS at once. Revoking the signing key promotes the next key
// without waiting (an emergency) and publishes a fresh next key.
func (r *Ring) Revoke(ctx context.Context, kid string) (Result, error) {
	var res Result
	_, err := r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		fresh, err := keys.Generate(r.alg, r.now(), r.sealer)
		if err != nil {
			return nil, err
		}
		out, err := keys.Revoke(old, kid, r.now(), fresh)
		if err != nil {
			return nil, err
		}
		res = describe(out)
		res.Revoked = kid
		return out, nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
	}
	return res, r.Reload(ctx)
}

func describe(ks []keys.Key) Result {
	var res Result
	if k, ok := keys.Current(ks); ok {
		res.Current = k.KID
	}
	if k, ok := keys.Next(ks); ok {
		res.Next = k.KID
	}
	return res
}
