package keyring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
	"github.com/jwtauth/jwtauth/keys"
)

// ErrAlreadyRotated is returned by an automatic rotation when another replica rotated first
// (the reason to rotate had gone by the time the transaction looked): not a failure.
var ErrAlreadyRotated = errors.New("already rotated by another process")

// Result says what a key change left in place in one algorithm's lifecycle.
type Result struct {
	Alg                             string
	Current, Next, Retired, Revoked string
}

// Rotate rotates every managed algorithm's lifecycle, in one change: in each, it promotes the
// next key, retires the current one and publishes a fresh next key. It refuses with a
// *keys.TooEarlyError (the longest wait) while any next key has been published for less than
// KEY_PUBLISH_AHEAD, unless force. A rotation that another process made while this one was
// deciding (a signing key changed under it) gives ErrAlreadyRotated, forced or not: two
// operators (or replicas) rotating at once rotate once. The fresh keys are generated before
// the transaction opens (see generateKeys), and discarded if the rotation does not happen.
// The audit event of the rotation is written in its transaction. The results are in the
// order of Algorithms, the access-token algorithm's first.
func (r *Ring) Rotate(ctx context.Context, force bool) ([]Result, error) {
	return r.rotate(ctx, r.algs(), force, false)
}

// rotate rotates the lifecycles of algs, audited as automatic or not.
func (r *Ring) rotate(ctx context.Context, algs []string, force, automatic bool) ([]Result, error) {
	before := map[string]string{}
	if s := r.cur.Load(); s != nil {
		before = s.kids
	}
	fresh := map[string][]keys.Key{}
	for _, a := range algs {
		need := 1
		if _, ok := keys.NextFor(r.Keys(), a); !ok && force {
			need = 2 // a forced rotation of a lifecycle without a next key (after a revocation)
		}
		f, err := r.generateKeys(a, need)
		if err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		fresh[a] = f
	}
	var res []Result
	_, err := r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		for _, a := range algs {
			cur, _ := keys.CurrentFor(old, a)
			if b := before[a]; b != "" && cur.KID != b {
				return nil, ErrAlreadyRotated
			}
		}
		out, err := keys.RotateAlgs(old, algs, r.now(), r.policy, force, fresh)
		if err != nil {
			return nil, err
		}
		res = res[:0]
		for _, a := range algs {
			x := describe(out, a)
			if c, ok := keys.CurrentFor(old, a); ok {
				x.Retired = c.KID
			}
			res = append(res, x)
		}
		return out, nil
	}, func() store.AuditEvent {
		parts := make([]string, 0, len(res))
		for _, x := range res {
			parts = append(parts, fmt.Sprintf("alg=%s current=%s retired=%s", x.Alg, x.Current, x.Retired))
		}
		return store.AuditEvent{At: r.now(), Event: store.AuditKeyRotated,
			Detail: fmt.Sprintf("%s force=%t automatic=%t", strings.Join(parts, " "), force, automatic)}
	})
	if err != nil {
		return nil, fmt.Errorf("rotate: %w", err)
	}
	return res, r.Reload(ctx)
}

// Revoke takes kid, of any algorithm, out of the JWKS at once. Revoking a signing key
// promotes the next key of its algorithm without waiting (an emergency) and publishes a fresh
// next key of that algorithm, generated before the transaction opens. The audit event of the
// revocation is written in its transaction.
//
// A key of an algorithm the ring does not manage (ALGORITHM changed since) is revoked without a
// fresh key (keys.RevokeEnding): revoking such a lifecycle's keys one by one ends it.
func (r *Ring) Revoke(ctx context.Context, kid string) (Result, error) {
	alg, err := r.algOf(ctx, kid)
	if err != nil {
		return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
	}
	revoke := keys.RevokeEnding
	if slices.Contains(r.algs(), alg) {
		fresh, err := r.generateKeys(alg, 1)
		if err != nil {
			return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
		}
		revoke = func(ks []keys.Key, kid string, now time.Time) ([]keys.Key, error) {
			return keys.RevokeKey(ks, kid, now, fresh[0])
		}
	}
	var res Result
	_, err = r.store.UpdateKeys(ctx, func(old []keys.Key) ([]keys.Key, error) {
		out, err := revoke(old, kid, r.now())
		if err != nil {
			return nil, err
		}
		res = describe(out, alg)
		res.Revoked = kid
		return out, nil
	}, func() store.AuditEvent {
		return store.AuditEvent{At: r.now(), Event: store.AuditKeyRevoked, Detail: "kid=" + kid + " alg=" + alg}
	})
	if err != nil {
		return Result{}, fmt.Errorf("revoke %s: %w", kid, err)
	}
	return res, r.Reload(ctx)
}

// algOf returns the algorithm of key kid, from the loaded key set or, when it is not there
// (created by another process since), from the store.
func (r *Ring) algOf(ctx context.Context, kid string) (string, error) {
	find := func(ks []keys.Key) (string, bool) {
		for _, k := range ks {
			if k.KID == kid {
				return k.Alg, true
			}
		}
		return "", false
	}
	if a, ok := find(r.Keys()); ok {
		return a, nil
	}
	ks, _, err := r.store.Keys(ctx)
	if err != nil {
		return "", err
	}
	if a, ok := find(ks); ok {
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", keys.ErrUnknownKey, kid)
}

// generateKeys makes n keys' material of algorithm alg before a key set transaction opens,
// never inside one: an RSA-2048 key takes up to seconds, and the transaction holds the key
// set's lock (on SQLite the database's only write lock), so every other writer would wait for
// the generation. The transaction sets their state and times; a caller whose transaction finds
// the change made already (another replica) drops them.
func (r *Ring) generateKeys(alg string, n int) ([]keys.Key, error) {
	out := make([]keys.Key, n)
	for i := range out {
		k, err := r.generate(alg, r.now(), r.sealer)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", alg, err)
		}
		out[i] = k
	}
	return out, nil
}

func describe(ks []keys.Key, alg string) Result {
	res := Result{Alg: alg}
	if k, ok := keys.CurrentFor(ks, alg); ok {
		res.Current = k.KID
	}
	if k, ok := keys.NextFor(ks, alg); ok {
		res.Next = k.KID
	}
	return res
}
