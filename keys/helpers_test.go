package keys

import (
	"slices"
	"testing"
	"time"
)

// t0 is the start of every test timeline.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// at is t0 plus m minutes.
func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// testPolicy is the small policy of the lifecycle tests.
func testPolicy() Policy {
	return Policy{AccessTTL: 15 * time.Minute, PublishAhead: 20 * time.Minute, JWKSMaxAge: 5 * time.Minute, RotateEvery: 24 * time.Hour}
}

// fake is a key with placeholder material, in state st, whose every lifecycle
// time that st requires is created.
func fake(kid string, st State, created time.Time) Key {
	k := Key{KID: kid, Alg: AlgES256, State: st, PublicJWK: []byte(`{}`), Sealed: []byte{1}, CreatedAt: created}
	switch st {
	case StateCurrent:
		k.ActivatedAt = created
	case StateRetired:
		k.ActivatedAt, k.RetiredAt = created, created
	case StateRevoked:
		k.RevokedAt = created
	}
	return k
}

// with returns k changed by f.
func with(k Key, f func(*Key)) Key {
	f(&k)
	return k
}

// kids lists the kids of ks in order.
func kids(ks []Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.KID
	}
	return out
}

// byKID returns the key kid of ks, failing the test if it is absent.
func byKID(t testing.TB, ks []Key, kid string) Key {
	t.Helper()
	i := slices.IndexFunc(ks, func(k Key) bool { return k.KID == kid })
	if i < 0 {
		t.Fatalf("key %q not in %v", kid, kids(ks))
	}
	return ks[i]
}
