package keys

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The simulated year drives the lifecycle functions the way the auth server
// does (rotate whenever due, a few forced rotations, revocations), signs one
// token a minute, and checks after every step what a verifier caching the JWKS
// for JWKSMaxAge would see.

const simStep = time.Minute

// simEvent is an operator action, done at the first step at or after at where
// do reports true.
type simEvent struct {
	at   time.Time
	name string
	do   func(s *sim) bool
	done bool
}

type sim struct {
	t       *testing.T
	p       Policy
	sealer  *Sealer
	now     time.Time
	ks      []Key
	exempt  map[string]string // kid → why it may sign before PublishAhead
	revoked map[string]bool
	gone    map[string]bool      // kids that were published and left the JWKS
	history [][]string           // published kids of the last steps, newest last
	due     map[string]time.Time // kid → until when tokens it signed must verify
	auto    int                  // rotations because DueForRotation
}

func TestSimulatedYear(t *testing.T) {
	t.Parallel()
	s := &sim{t: t, p: testPolicy(), sealer: newTestSealer(t), now: t0,
		exempt: map[string]string{}, revoked: map[string]bool{}, gone: map[string]bool{}, due: map[string]time.Time{}}
	s.ks = Bootstrap(t0, s.fresh(), s.fresh())
	s.exempt[s.current().KID] = "bootstrap"
	day := func(d int, hm time.Duration) time.Time { return t0.AddDate(0, 0, d).Add(hm) }
	events := []*simEvent{
		{at: day(50, 10*time.Hour), name: "forced rotation", do: (*sim).forceRotate},
		{at: day(50, 10*time.Hour+5*time.Minute), name: "forced early rotation", do: (*sim).forceRotate},
		{at: day(120, 15*time.Hour), name: "revoke current", do: revokeState(StateCurrent)},
		{at: day(180, 0), name: "revoke next when a rotation is due", do: revokeNextWhenDue},
		{at: day(240, 0), name: "revoke retired", do: revokeState(StateRetired)},
	}
	end := t0.AddDate(1, 0, 0)
	for ; s.now.Before(end); s.now = s.now.Add(simStep) {
		for _, e := range events {
			if !e.done && !s.now.Before(e.at) {
				e.done = e.do(s)
			}
		}
		if DueForRotation(s.ks, s.now, s.p) {
			s.rotate(false)
			s.auto++
		}
		s.checkTooEarly()
		s.observe()
		s.sign()
		s.verify()
		if t.Failed() {
			t.Fatalf("stopped at %v", s.now)
		}
	}
	for _, e := range events {
		if !e.done {
			t.Errorf("event %q never happened", e.name)
		}
	}
	if s.auto < 360 {
		t.Errorf("%d automatic rotations in a year, want about 365", s.auto)
	}
	if got, want := len(s.exempt), 4; got != want {
		t.Errorf("%d keys activated early (%v), want %d", got, s.exempt, want)
	}
	for _, k := range s.ks {
		if k.State == StateRevoked {
			t.Errorf("revoked key %s not pruned after %v", k.KID, KeepRevoked)
		}
	}
}

func (s *sim) fresh() Key {
	s.t.Helper()
	k, err := Generate(AlgES256, s.now, s.sealer)
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

func (s *sim) current() Key {
	c, ok := Current(s.ks)
	if !ok {
		s.t.Fatalf("%v: no current key", s.now)
	}
	return c
}

func (s *sim) rotate(force bool) {
	s.t.Helper()
	ks, err := Rotate(s.ks, s.now, s.p, force, s.fresh())
	if err != nil {
		s.t.Fatalf("%v: rotate (force %v): %v", s.now, force, err)
	}
	s.ks = ks
}

func (s *sim) forceRotate() bool {
	s.rotate(true)
	s.exempt[s.current().KID] = "forced rotation"
	return true
}

// revokeState returns an event that revokes the key in state st, once one
// is published.
func revokeState(st State) func(*sim) bool {
	return func(s *sim) bool {
		i := slices.IndexFunc(Published(s.ks, s.now, s.p), func(k Key) bool { return k.State == st })
		if i < 0 {
			return false
		}
		kid := Published(s.ks, s.now, s.p)[i].KID
		ks, err := Revoke(s.ks, kid, s.now, s.fresh())
		if err != nil {
			s.t.Fatalf("%v: revoke %s key: %v", s.now, st, err)
		}
		s.ks = ks
		s.revoked[kid] = true
		if st == StateCurrent {
			s.exempt[s.current().KID] = "emergency after revoking the current key"
		}
		return true
	}
}

// revokeNextWhenDue revokes the next key when a rotation is due, so that the
// rotation has to wait for the fresh next key.
func revokeNextWhenDue(s *sim) bool {
	if !DueForRotation(s.ks, s.now, s.p) {
		return false
	}
	n, _ := Next(s.ks)
	if !revokeState(StateNext)(s) {
		s.t.Fatalf("%v: cannot revoke the next key", s.now)
	}
	if DueForRotation(s.ks, s.now, s.p) {
		s.t.Errorf("%v: rotation still due right after revoking next key %s", s.now, n.KID)
	}
	return true
}

// checkTooEarly checks RotateWait against the next key's age, and that a
// rotation without force is refused exactly while it is positive, with that
// wait.
func (s *sim) checkTooEarly() {
	n, _ := Next(s.ks)
	want := max(n.CreatedAt.Add(s.p.PublishAhead).Sub(s.now), 0)
	if got := RotateWait(s.ks, s.now, s.p); got != want {
		s.t.Errorf("%v: RotateWait = %v, want %v", s.now, got, want)
	}
	if want == 0 {
		return
	}
	_, err := Rotate(s.ks, s.now, s.p, false, fake("unused", StateNext, s.now))
	var te *TooEarlyError
	if !errors.As(err, &te) || te.Wait != want {
		s.t.Errorf("%v: Rotate without force = %v, want TooEarlyError{%v}", s.now, err, want)
	}
}

// observe checks the invariants of the key set and of the JWKS at now.
func (s *sim) observe() {
	if err := Check(s.ks); err != nil {
		s.t.Fatalf("%v: %v", s.now, err)
	}
	if len(s.ks) > 6 {
		s.t.Errorf("%v: %d keys in the table; pruning is not working", s.now, len(s.ks))
	}
	c := s.current()
	if why, ok := s.exempt[c.KID]; !ok && c.ActivatedAt.Sub(c.CreatedAt) < s.p.PublishAhead {
		s.t.Errorf("%v: current key published %v before it signed, want at least %v",
			s.now, c.ActivatedAt.Sub(c.CreatedAt), s.p.PublishAhead)
	} else if ok && why == "" {
		s.t.Errorf("exempt key %s without reason", c.KID)
	}
	published := Published(s.ks, s.now, s.p)
	pub := kids(published)
	for _, k := range published {
		if s.revoked[k.KID] {
			s.t.Errorf("%v: revoked key %s is published", s.now, k.KID)
		}
		if s.gone[k.KID] {
			s.t.Errorf("%v: key %s is published again after it left", s.now, k.KID)
		}
	}
	if n, ok := Next(s.ks); !ok || !slices.Contains(pub, n.KID) || !slices.Contains(pub, c.KID) {
		s.t.Errorf("%v: current or next key missing from %v", s.now, pub)
	}
	if len(s.history) > 0 {
		for _, kid := range s.history[len(s.history)-1] {
			if !slices.Contains(pub, kid) {
				s.gone[kid] = true
			}
		}
	}
	s.history = append(s.history, pub)
	if lag := int(s.p.JWKSMaxAge / simStep); len(s.history) > lag+1 {
		s.history = s.history[len(s.history)-lag-1:]
	}
}

// sign issues a token with the current key, which must then stay published
// until the token's exp plus JWKSMaxAge. It also checks that a verifier whose
// JWKS was fetched JWKSMaxAge ago already knows the key, unless the key was
// activated early on purpose and is younger than that.
func (s *sim) sign() {
	c := s.current()
	s.due[c.KID] = s.now.Add(s.p.AccessTTL + s.p.JWKSMaxAge) // the latest token of c
	lag := int(s.p.JWKSMaxAge / simStep)
	if len(s.history) <= lag {
		return // no verifier can have fetched the JWKS that long ago
	}
	if slices.Contains(s.history[len(s.history)-1-lag], c.KID) {
		return
	}
	if _, ok := s.exempt[c.KID]; ok && s.now.Before(c.CreatedAt.Add(s.p.JWKSMaxAge)) {
		return
	}
	s.t.Errorf("%v: key %s signs, but a JWKS cached %v ago lacks it", s.now, c.KID, s.p.JWKSMaxAge)
}

// verify checks that every signing key stays published until the exp plus
// JWKSMaxAge of the last token it signed; keys that are revoked are dropped,
// as their tokens are meant to stop verifying.
func (s *sim) verify() {
	pub := s.history[len(s.history)-1]
	for kid, until := range s.due {
		switch {
		case s.revoked[kid] || s.now.After(until):
			delete(s.due, kid)
		case !slices.Contains(pub, kid):
			s.t.Errorf("%v: key %s left the JWKS, but a token it signed expires at %v",
				s.now, kid, until.Add(-s.p.JWKSMaxAge))
		}
	}
}
