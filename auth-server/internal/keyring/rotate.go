package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
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
// operators (or replicas) rotating at once rotate once. The fresh key is generated before the
// transaction opens (see generateKeys), and discarded if the rotation does not happen. The
// audit event of the rotation is written in its transaction.
func (r *Ring) Rotate(ctx context.Context, force bool) (Result, error) {
	return r.rotate(ctx, force, false)
}

// rotate is Rotate, audited as automatic or not.
func (r *Ring) rotate(ctx context.Context, force, automatic bool) (Result, error) {
	before := ""
	if s := r.cur.Load(); s != nil {
		before = s.kid
	}
	fresh, err := r.generateKeys(1)
	if err != nil {
		return Result{}, fmt.Errorf("rotate: %w", err)
	}
	var res Result
	_, err = r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		cur, _ := keys.Current(old)
		if before != "" && cur.KID != before {
			return nil, ErrAlreadyRotated
		}
		out, err := keys.Rotate(old, r.now(), r.policy, force, fresh...)
		if err != nil {
			return nil, err
		}
		res = describe(out)
		res.Retired = cur.KID
		return out, nil
	}, func() store.AuditEvent {
		return store.AuditEvent{At: r.now(), Event: store.AuditKeyRotated,
			Detail: fmt.Sprintf("current=%s retired=%s force=%t automatic=%t", res.Current, res.Retired, force, automatic)}
	})
	if err != nil {
		return Result{}, fmt.Errorf("rotate: %w", err)
	}
	return res, r.Reload(ctx)
}

// Revoke takes kid out of the JWKS at once. Revoking the signing key promotes the next key
// without waiting (an emergency) and publishes a fresh next key, generated before the
// transaction opens. The audit event of the revocation is written in its transaction.
func (r *Ring) Revoke(ctx context.Context, kid string) (Result, error) {
	fresh, err := r.generateKeys(1)
	if err != nil {
		return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
	}
	var res Result
	_, err = r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		out, err := keys.Revoke(old, kid, r.now(), fresh[0])
		if err != nil {
			return nil, err
		}
		res = describe(out)
		res.Revoked = kid
		return out, nil
	}, func() store.AuditEvent {
		return store.AuditEvent{At: r.now(), Event: store.AuditKeyRevoked, Detail: "kid=" + kid}
	})
	if err != nil {
		return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
	}
	return res, r.Reload(ctx)
}

// generateKeys makes n keys' material before a key set transaction opens, never inside one:
// an RSA-2048 key takes up to seconds, and the transaction holds the key set's lock (on SQLite
// the database's only write lock), so every other writer would wait for the generation. The
// transaction sets their state and times; a caller whose transaction finds the change made
// already (another replica) drops them.
func (r *Ring) generateKeys(n int) ([]keys.Key, error) {
	out := make([]keys.Key, n)
	for i := range out {
		k, err := r.generate(r.alg, r.now(), r.sealer)
		if err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		out[i] = k
	}
	return out, nil
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
