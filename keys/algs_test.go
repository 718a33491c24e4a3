package keys

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// rs is fake for an RS256 key.
func rs(kid string, st State, created time.Time) Key {
	return with(fake(kid, st, created), func(k *Key) { k.Alg = AlgRS256 })
}

// twoLifecycles is an ES256 lifecycle and an RS256 one, the RS256 next key published later.
func twoLifecycles() []Key {
	return []Key{
		fake("ec", StateCurrent, at(0)), fake("en", StateNext, at(0)),
		rs("rc", StateCurrent, at(30)), rs("rn", StateNext, at(30)),
	}
}

func states(ks []Key) map[string]State {
	out := map[string]State{}
	for _, k := range ks {
		out[k.KID] = k.State
	}
	return out
}

func TestForAlgAlgsReplaceAlg(t *testing.T) {
	ks := twoLifecycles()
	if got := kids(ForAlg(ks, AlgRS256)); !reflect.DeepEqual(got, []string{"rc", "rn"}) {
		t.Errorf("ForAlg = %v", got)
	}
	if got := Algs(ks); !reflect.DeepEqual(got, []string{AlgES256, AlgRS256}) {
		t.Errorf("Algs = %v", got)
	}
	out := ReplaceAlg(ks, AlgES256, []Key{fake("x", StateCurrent, at(1))})
	if got := kids(out); !reflect.DeepEqual(got, []string{"rc", "rn", "x"}) {
		t.Errorf("ReplaceAlg = %v", got)
	}
	if got := kids(ks); !reflect.DeepEqual(got, []string{"ec", "en", "rc", "rn"}) {
		t.Errorf("ReplaceAlg modified its input: %v", got)
	}
	if c, ok := CurrentFor(ks, AlgRS256); !ok || c.KID != "rc" {
		t.Errorf("CurrentFor = %v %t", c.KID, ok)
	}
	if n, ok := NextFor(ks, AlgES256); !ok || n.KID != "en" {
		t.Errorf("NextFor = %v %t", n.KID, ok)
	}
	if _, ok := CurrentFor(ks, AlgEdDSA); ok {
		t.Error("CurrentFor an absent algorithm")
	}
}

func TestCheckSet(t *testing.T) {
	ok := twoLifecycles()
	if err := CheckSet(ok); err != nil {
		t.Fatalf("two lifecycles, one current each: %v", err)
	}
	if err := Check(ok); err == nil {
		t.Error("Check (one lifecycle) accepted two current keys")
	}
	if err := CheckSet(nil); err != nil {
		t.Errorf("empty set: %v", err)
	}
	for name, ks := range map[string][]Key{
		"two RS256 current":     append(twoLifecycles(), rs("rc2", StateCurrent, at(1))),
		"RS256 without current": {fake("ec", StateCurrent, at(0)), rs("rn", StateNext, at(0))},
		"kid in both":           {fake("k", StateCurrent, at(0)), rs("k", StateCurrent, at(0))},
	} {
		if err := CheckSet(ks); !errors.Is(err, ErrInvalidKeys) {
			t.Errorf("%s: %v, want ErrInvalidKeys", name, err)
		}
	}
}

func TestRotateAlgs(t *testing.T) {
	p := testPolicy()
	fresh := map[string][]Key{AlgES256: {fake("ef", StateNext, at(0))}, AlgRS256: {rs("rf", StateNext, at(0))}}
	both := []string{AlgES256, AlgRS256}

	// ES256's next key is ready at 20, RS256's at 50: an unforced rotation of both waits for
	// the later one, and changes nothing.
	_, err := RotateAlgs(twoLifecycles(), both, at(25), p, false, fresh)
	var early *TooEarlyError
	if !errors.As(err, &early) || early.Wait != 25*time.Minute {
		t.Fatalf("too early: %v", err)
	}
	// ES256 alone may rotate at 25; RS256 is left as it was.
	out, err := RotateAlgs(twoLifecycles(), []string{AlgES256}, at(25), p, false, fresh)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]State{"ec": StateRetired, "en": StateCurrent, "ef": StateNext, "rc": StateCurrent, "rn": StateNext}
	if got := states(out); !reflect.DeepEqual(got, want) {
		t.Errorf("ES256 only: %v, want %v", got, want)
	}
	// Both, forced, or at 50 unforced.
	for _, tc := range []struct {
		now   time.Time
		force bool
	}{{at(25), true}, {at(50), false}} {
		out, err := RotateAlgs(twoLifecycles(), both, tc.now, p, tc.force, fresh)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]State{"ec": StateRetired, "en": StateCurrent, "ef": StateNext, "rc": StateRetired, "rn": StateCurrent, "rf": StateNext}
		if got := states(out); !reflect.DeepEqual(got, want) {
			t.Errorf("both at %v force=%t: %v, want %v", tc.now, tc.force, got, want)
		}
		if err := CheckSet(out); err != nil {
			t.Error(err)
		}
		if rf := byKID(t, out, "rf"); rf.Alg != AlgRS256 || !rf.CreatedAt.Equal(tc.now) {
			t.Errorf("fresh RS256 key = %+v", rf)
		}
	}
	// A missing fresh key for one algorithm fails the whole rotation.
	if _, err := RotateAlgs(twoLifecycles(), both, at(50), p, false, map[string][]Key{AlgES256: fresh[AlgES256]}); !errors.Is(err, ErrNoFreshKey) {
		t.Errorf("no fresh RS256 key: %v", err)
	}
	// Retired keys of every algorithm are pruned once past their removal.
	ks := append(twoLifecycles(), rs("rold", StateRetired, at(0))) // RemoveAt 35
	out, err = RotateAlgs(ks, []string{AlgES256}, at(40), p, false, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := states(out)["rold"]; ok {
		t.Error("expired RS256 retired key kept")
	}
}

func TestRevokeKey(t *testing.T) {
	fr := rs("rf", StateNext, at(0))
	out, err := RevokeKey(twoLifecycles(), "rc", at(40), fr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]State{"ec": StateCurrent, "en": StateNext, "rc": StateRevoked, "rn": StateCurrent, "rf": StateNext}
	if got := states(out); !reflect.DeepEqual(got, want) {
		t.Errorf("revoke RS256 current: %v, want %v", got, want)
	}
	if err := CheckSet(out); err != nil {
		t.Error(err)
	}
	if _, err := RevokeKey(twoLifecycles(), "rc", at(40), fake("ef", StateNext, at(0))); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("fresh key of another algorithm: %v", err)
	}
	if _, err := RevokeKey(twoLifecycles(), "nope", at(40), fr); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := RevokeKey(out, "rc", at(41), Key{}); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("twice: %v", err)
	}
}

// Published takes a mixed set: every lifecycle's next, current and unexpired retired keys.
func TestPublishedEveryAlgorithm(t *testing.T) {
	ks := append(twoLifecycles(), rs("rr", StateRetired, at(30)), rs("rv", StateRevoked, at(30)))
	got := map[string]bool{}
	for _, k := range Published(ks, at(40), testPolicy()) {
		got[k.KID] = true
	}
	want := map[string]bool{"ec": true, "en": true, "rc": true, "rn": true, "rr": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
}

// RevokeEnding winds an unused algorithm's lifecycle down without fresh keys: the next key is
// promoted when the current one goes, and the last one ends the lifecycle, which CheckSet
// accepts; the other lifecycle is untouched.
func TestRevokeEnding(t *testing.T) {
	out, err := RevokeEnding(twoLifecycles(), "ec", at(40))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]State{"ec": StateRevoked, "en": StateCurrent, "rc": StateCurrent, "rn": StateNext}
	if got := states(out); !reflect.DeepEqual(got, want) {
		t.Errorf("revoke ES256 current: %v, want %v", got, want)
	}
	out, err = RevokeEnding(out, "en", at(41))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]State{"ec": StateRevoked, "en": StateRevoked, "rc": StateCurrent, "rn": StateNext}
	if got := states(out); !reflect.DeepEqual(got, want) {
		t.Errorf("revoke the last ES256 key: %v, want %v", got, want)
	}
	if err := CheckSet(out); err != nil {
		t.Errorf("an ended lifecycle: %v", err)
	}
	for _, k := range Published(out, at(41), testPolicy()) {
		if k.Alg == AlgES256 {
			t.Errorf("ended lifecycle's key %s published", k.KID)
		}
	}
	// A lifecycle with a next key but no current one is still refused.
	if err := CheckSet([]Key{fake("en", StateNext, at(0)), fake("ev", StateRevoked, at(0))}); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("next without current: %v", err)
	}
	if _, err := RevokeEnding(out, "en", at(42)); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("twice: %v", err)
	}
}
