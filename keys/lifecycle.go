package keys

import (
	"fmt"
	"slices"
	"time"
)

// KeepRevoked is how long a revoked key stays in the table, unpublished, so
// that operators can still list it; [Prune] drops it afterwards.
const KeepRevoked = 30 * 24 * time.Hour

// The lifecycle functions below never modify their input slice; the keys they
// return share only the PublicJWK and Sealed byte slices, which are never
// written to.

// Bootstrap returns the keys of an empty key table: current, activated at now,
// and next, published at now. The current key signs at once; that is safe only
// because no token has been signed before.
func Bootstrap(now time.Time, current, next Key) []Key {
	return []Key{asCurrent(current, now), asNext(next, now)}
}

// Rotate promotes the next key to current (ActivatedAt = now), retires the
// current key (RetiredAt = now), publishes fresh[0] as the new next key (state
// forced to next, CreatedAt = now), and prunes keys past their time ([Prune]).
//
// Without force it returns a [*TooEarlyError] while [RotateWait] is positive.
// If there is no next key it returns [ErrNoNextKey] unless force is set; then
// fresh[0] becomes current directly and fresh[1] next, so two fresh keys are
// needed. Too few fresh keys give [ErrNoFreshKey]; extra ones are ignored, so a
// caller may always pass two. Fresh keys must be freshly generated (see
// [Generate]). A result that would break [Check] is returned as an error
// instead.
func Rotate(ks []Key, now time.Time, p Policy, force bool, fresh ...Key) ([]Key, error) {
	n, hasNext := Next(ks)
	need := 1
	if !hasNext {
		if !force {
			return nil, ErrNoNextKey
		}
		need = 2
	}
	if wait := RotateWait(ks, now, p); wait > 0 && !force {
		return nil, &TooEarlyError{Wait: wait}
	}
	if len(fresh) < need {
		return nil, fmt.Errorf("%w: rotation needs %d, got %d", ErrNoFreshKey, need, len(fresh))
	}
	out := make([]Key, 0, len(ks)+need)
	for _, k := range ks {
		switch {
		case k.State == StateCurrent:
			k.State, k.RetiredAt = StateRetired, now
		case hasNext && k.KID == n.KID:
			k.State, k.ActivatedAt = StateCurrent, now
		}
		out = append(out, k)
	}
	if !hasNext {
		out = append(out, asCurrent(fresh[0], now))
		fresh = fresh[1:]
	}
	out = append(out, asNext(fresh[0], now))
	out = Prune(out, now, p)
	if err := Check(out); err != nil {
		return nil, fmt.Errorf("keys: rotate: %w", err)
	}
	return out, nil
}

// Revoke marks the key kid revoked (RevokedAt = now), so it leaves
// [Published] at once. Revoking the current key is an emergency: the next key
// becomes current at once, without waiting for PublishAhead, and fresh becomes
// the new next key; if there is no next key, fresh becomes current directly and
// the set is left without a next key. Revoking the next key makes fresh the new
// next key. Revoking a retired key uses no fresh key (pass a zero Key).
// Unknown kid gives [ErrUnknownKey], a revoked one [ErrAlreadyRevoked].
func Revoke(ks []Key, kid string, now time.Time, fresh Key) ([]Key, error) {
	i := slices.IndexFunc(ks, func(k Key) bool { return k.KID == kid })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	was := ks[i].State
	if was == StateRevoked {
		return nil, fmt.Errorf("%w: %q", ErrAlreadyRevoked, kid)
	}
	out := slices.Clone(ks)
	out[i].State, out[i].RevokedAt = StateRevoked, now
	switch was {
	case StateCurrent:
		out[i].RetiredAt = now
		j := slices.IndexFunc(out, func(k Key) bool { return k.State == StateNext })
		if j < 0 {
			out = append(out, asCurrent(fresh, now))
			break
		}
		out[j].State, out[j].ActivatedAt = StateCurrent, now
		out = append(out, asNext(fresh, now))
	case StateNext:
		out = append(out, asNext(fresh, now))
	}
	if err := Check(out); err != nil {
		return nil, fmt.Errorf("keys: revoke: %w", err)
	}
	return out, nil
}

// Prune returns ks without the retired keys whose RemoveAt is not after now
// and the revoked keys revoked at least [KeepRevoked] before now.
func Prune(ks []Key, now time.Time, p Policy) []Key {
	out := make([]Key, 0, len(ks))
	for _, k := range ks {
		switch {
		case k.State == StateRetired && !p.RemoveAt(k).After(now):
			continue
		case k.State == StateRevoked && !k.RevokedAt.Add(KeepRevoked).After(now):
			continue
		}
		out = append(out, k)
	}
	return out
}

func asNext(k Key, now time.Time) Key {
	k.State, k.CreatedAt = StateNext, now
	k.ActivatedAt, k.RetiredAt, k.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	return k
}

func asCurrent(k Key, now time.Time) Key {
	k = asNext(k, now)
	k.State, k.ActivatedAt = StateCurrent, now
	return k
}
