package keys

import (
	"fmt"
	"slices"
	"time"
)

// A key set holds one lifecycle per algorithm: the access-token algorithm's and, when that is
// not RS256, RS256's for ID tokens (OpenID Connect Discovery requires RS256). Each
// algorithm's keys follow the rules of [Check], [Rotate], [Revoke] and [Prune] on their own;
// the functions below split a mixed set by algorithm and put it back together, so the
// single-lifecycle functions stay as they are. [Published] and [Prune] look at one key at a
// time and take a mixed set as it is.

// ForAlg returns the keys of ks whose algorithm is alg, in their order.
func ForAlg(ks []Key, alg string) []Key {
	out := make([]Key, 0, len(ks))
	for _, k := range ks {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

// Algs returns the algorithms of ks, each once, in the order they first appear.
func Algs(ks []Key) []string {
	var out []string
	for _, k := range ks {
		if !slices.Contains(out, k.Alg) {
			out = append(out, k.Alg)
		}
	}
	return out
}

// ReplaceAlg returns ks with the keys of algorithm alg replaced by lifecycle: the other
// algorithms' keys first, in their order, then lifecycle. ks is not modified.
func ReplaceAlg(ks []Key, alg string, lifecycle []Key) []Key {
	out := make([]Key, 0, len(ks)+len(lifecycle))
	for _, k := range ks {
		if k.Alg != alg {
			out = append(out, k)
		}
	}
	return append(out, lifecycle...)
}

// CurrentFor returns the current key of algorithm alg; ok is false if there is none.
func CurrentFor(ks []Key, alg string) (Key, bool) { return Current(ForAlg(ks, alg)) }

// NextFor returns the next key of algorithm alg; ok is false if there is none.
func NextFor(ks []Key, alg string) (Key, bool) { return Next(ForAlg(ks, alg)) }

// CheckSet is [Check] for a set of several lifecycles: every algorithm present must pass
// [Check] on its own (one current key each, at most one next key each), and kids are unique
// across the whole set. An empty set passes. A lifecycle that has ended ([RevokeEnding]: no
// current and no next key, only retired and revoked ones) passes when each key is sound.
func CheckSet(ks []Key) error {
	seen := make(map[string]bool, len(ks))
	for _, k := range ks {
		if seen[k.KID] && k.KID != "" {
			return fmt.Errorf("%w: kid %q appears twice", ErrInvalidKeys, k.KID)
		}
		seen[k.KID] = true
	}
	for _, alg := range Algs(ks) {
		lc := ForAlg(ks, alg)
		_, hasCurrent := Current(lc)
		_, hasNext := Next(lc)
		if !hasCurrent && !hasNext {
			for _, k := range lc {
				if err := checkKey(k); err != nil {
					return fmt.Errorf("%s lifecycle: %w: key %q: %s", alg, ErrInvalidKeys, k.KID, err)
				}
			}
			continue
		}
		if err := Check(lc); err != nil {
			return fmt.Errorf("%s lifecycle: %w", alg, err)
		}
	}
	return nil
}

// RevokeEnding revokes kid in a lifecycle that is being wound down (its algorithm is no longer
// configured, so it never signs) and returns the whole set. Unlike [RevokeKey] it publishes no
// fresh key: revoking the current key promotes the next key if there is one, and otherwise
// ends the lifecycle (no current key is left); revoking the next key leaves none. Revoking
// every published key of an algorithm this way takes the algorithm out of the JWKS.
func RevokeEnding(ks []Key, kid string, now time.Time) ([]Key, error) {
	i := slices.IndexFunc(ks, func(k Key) bool { return k.KID == kid })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	was, alg := ks[i].State, ks[i].Alg
	if was == StateRevoked {
		return nil, fmt.Errorf("%w: %q", ErrAlreadyRevoked, kid)
	}
	out := slices.Clone(ks)
	out[i].State, out[i].RevokedAt = StateRevoked, now
	if was == StateCurrent {
		out[i].RetiredAt = now
		if j := slices.IndexFunc(out, func(k Key) bool { return k.Alg == alg && k.State == StateNext }); j >= 0 {
			out[j].State, out[j].ActivatedAt = StateCurrent, now
		}
	}
	if err := CheckSet(out); err != nil {
		return nil, fmt.Errorf("keys: revoke: %w", err)
	}
	return out, nil
}

// RotateAlgs rotates the lifecycle of each algorithm in algs, at now, as [Rotate] does, and
// returns the whole set. fresh[alg] holds the fresh keys for alg (two may always be passed).
// It is all or nothing: without force, the first algorithm whose next key is not ready makes
// it return a [*TooEarlyError] whose Wait is the longest wait of all of them, and any other
// error of any algorithm is returned as is, wrapped with the algorithm. Algorithms not in
// algs are left alone, except that [Prune] applies to the whole result.
func RotateAlgs(ks []Key, algs []string, now time.Time, p Policy, force bool, fresh map[string][]Key) ([]Key, error) {
	if !force {
		var wait time.Duration
		for _, alg := range algs {
			wait = max(wait, RotateWait(ForAlg(ks, alg), now, p))
		}
		if wait > 0 {
			return nil, &TooEarlyError{Wait: wait}
		}
	}
	out := ks
	for _, alg := range algs {
		rotated, err := Rotate(ForAlg(out, alg), now, p, force, fresh[alg]...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", alg, err)
		}
		out = ReplaceAlg(out, alg, rotated)
	}
	return Prune(out, now, p), nil
}

// RevokeKey revokes kid as [Revoke] does, within its own algorithm's lifecycle (fresh must be
// of that algorithm, or a zero Key when kid is retired), and returns the whole set.
func RevokeKey(ks []Key, kid string, now time.Time, fresh Key) ([]Key, error) {
	i := slices.IndexFunc(ks, func(k Key) bool { return k.KID == kid })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	alg := ks[i].Alg
	if fresh.KID != "" && fresh.Alg != alg {
		return nil, fmt.Errorf("%w: fresh key is %s, revoked key %q is %s", ErrInvalidKeys, fresh.Alg, kid, alg)
	}
	revoked, err := Revoke(ForAlg(ks, alg), kid, now, fresh)
	if err != nil {
		return nil, err
	}
	return ReplaceAlg(ks, alg, revoked), nil
}
