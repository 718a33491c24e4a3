package keys

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	ok := testPolicy()
	tests := []struct {
		name string
		p    Policy
		want bool
	}{
		{"defaults", Policy{PublishAhead: 20 * time.Minute, AccessTTL: 15 * time.Minute, JWKSMaxAge: 5 * time.Minute}, true},
		{"small", ok, true},
		{"publish ahead equals max age", withPolicy(ok, func(p *Policy) { p.PublishAhead = p.JWKSMaxAge }), true},
		{"publish ahead below max age", withPolicy(ok, func(p *Policy) { p.PublishAhead = p.JWKSMaxAge - 1 }), false},
		{"zero access ttl", withPolicy(ok, func(p *Policy) { p.AccessTTL = 0 }), false},
		{"negative max age", withPolicy(ok, func(p *Policy) { p.JWKSMaxAge = -1 }), false},
		{"negative rotate every", withPolicy(ok, func(p *Policy) { p.RotateEvery = -1 }), false},
		{"zero max age and publish ahead", withPolicy(ok, func(p *Policy) { p.JWKSMaxAge, p.PublishAhead = 0, 0 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if got := err == nil; got != tt.want {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v does not wrap ErrInvalidPolicy", err)
			}
		})
	}
}

func withPolicy(p Policy, f func(*Policy)) Policy {
	f(&p)
	return p
}

func TestRemoveAt(t *testing.T) {
	p := testPolicy()
	retired := with(fake("r", StateRetired, at(0)), func(k *Key) { k.RetiredAt = at(100) })
	if got, want := p.RemoveAt(retired), at(100+15+20); !got.Equal(want) {
		t.Errorf("RemoveAt(retired) = %v, want %v", got, want)
	}
	for _, st := range []State{StateNext, StateCurrent, StateRevoked} {
		if got := p.RemoveAt(fake("k", st, at(0))); !got.IsZero() {
			t.Errorf("RemoveAt(%s) = %v, want zero", st, got)
		}
	}
}

func TestCurrentNext(t *testing.T) {
	ks := []Key{fake("r", StateRetired, at(0)), fake("n", StateNext, at(1)), fake("c", StateCurrent, at(2))}
	if c, ok := Current(ks); !ok || c.KID != "c" {
		t.Errorf("Current = %q, %v; want c, true", c.KID, ok)
	}
	if n, ok := Next(ks); !ok || n.KID != "n" {
		t.Errorf("Next = %q, %v; want n, true", n.KID, ok)
	}
	if _, ok := Current(ks[:2]); ok {
		t.Error("Current of a set without one reported ok")
	}
	if _, ok := Next(nil); ok {
		t.Error("Next(nil) reported ok")
	}
}

func TestPublished(t *testing.T) {
	p := testPolicy()
	retiredAt := func(kid string, m int) Key {
		return with(fake(kid, StateRetired, at(0)), func(k *Key) { k.RetiredAt = at(m) })
	}
	ks := []Key{
		retiredAt("old", 0), // RemoveAt = 35
		fake("n", StateNext, at(50)),
		retiredAt("newer", 30), // RemoveAt = 65
		fake("x", StateRevoked, at(40)),
		fake("c", StateCurrent, at(30)),
		retiredAt("new", 20), // RemoveAt = 55
	}
	tests := []struct {
		now  time.Time
		want []string
	}{
		{at(34), []string{"c", "n", "newer", "new", "old"}},
		{at(35), []string{"c", "n", "newer", "new"}}, // gone exactly at RemoveAt
		{at(54), []string{"c", "n", "newer", "new"}},
		{at(64), []string{"c", "n", "newer"}},
		{at(1000), []string{"c", "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.now.Format(time.Kitchen), func(t *testing.T) {
			if got := kids(Published(ks, tt.now, p)); !slices.Equal(got, tt.want) {
				t.Errorf("Published = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Published(nil, at(0), p); len(got) != 0 {
		t.Errorf("Published(nil) = %v, want empty", kids(got))
	}
}

func TestRotateWait(t *testing.T) {
	p := testPolicy()
	ks := []Key{fake("c", StateCurrent, at(0)), fake("n", StateNext, at(10))}
	tests := []struct {
		name string
		ks   []Key
		now  time.Time
		want time.Duration
	}{
		{"just published", ks, at(10), 20 * time.Minute},
		{"half way", ks, at(20), 10 * time.Minute},
		{"one second short", ks, at(30).Add(-time.Second), time.Second},
		{"exactly ready", ks, at(30), 0},
		{"long ready", ks, at(1000), 0},
		{"next from the future", ks, at(5), 25 * time.Minute},
		{"no next key", ks[:1], at(0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RotateWait(tt.ks, tt.now, p); got != tt.want {
				t.Errorf("RotateWait = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDueForRotation(t *testing.T) {
	p := testPolicy()
	day := 24 * 60
	current := fake("c", StateCurrent, at(0))
	next := fake("n", StateNext, at(0))
	off := p
	off.RotateEvery = 0
	tests := []struct {
		name string
		ks   []Key
		now  time.Time
		p    Policy
		want bool
	}{
		{"young current", []Key{current, next}, at(day - 1), p, false},
		{"old current", []Key{current, next}, at(day), p, true},
		{"rotation off", []Key{current, next}, at(10 * day), off, false},
		{"next not ready", []Key{current, fake("n", StateNext, at(day-10))}, at(day), p, false},
		{"next just ready", []Key{current, fake("n", StateNext, at(day-20))}, at(day), p, true},
		{"no next", []Key{current}, at(day), p, false},
		{"no current", []Key{next}, at(day), p, false},
		{"activated later than created", []Key{with(current, func(k *Key) { k.ActivatedAt = at(60) }), next}, at(day), p, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DueForRotation(tt.ks, tt.now, tt.p); got != tt.want {
				t.Errorf("DueForRotation = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c, n := fake("c", StateCurrent, at(0)), fake("n", StateNext, at(0))
	r, x := fake("r", StateRetired, at(0)), fake("x", StateRevoked, at(0))
	tests := []struct {
		name string
		ks   []Key
		ok   bool
	}{
		{"current and next", []Key{c, n}, true},
		{"all states", []Key{r, c, x, n}, true},
		{"current only", []Key{c}, true},
		{"empty", nil, false},
		{"no current", []Key{n, r}, false},
		{"two current", []Key{c, with(c, func(k *Key) { k.KID = "c2" })}, false},
		{"two next", []Key{c, n, with(n, func(k *Key) { k.KID = "n2" })}, false},
		{"duplicate kid", []Key{c, with(n, func(k *Key) { k.KID = "c" })}, false},
		{"empty kid", []Key{c, with(n, func(k *Key) { k.KID = "" })}, false},
		{"bad alg", []Key{c, with(n, func(k *Key) { k.Alg = "HS256" })}, false},
		{"bad state", []Key{c, with(n, func(k *Key) { k.State = "old" })}, false},
		{"no public jwk", []Key{c, with(n, func(k *Key) { k.PublicJWK = nil })}, false},
		{"no sealed", []Key{c, with(n, func(k *Key) { k.Sealed = nil })}, false},
		{"no created", []Key{c, with(n, func(k *Key) { k.CreatedAt = time.Time{} })}, false},
		{"current not activated", []Key{with(c, func(k *Key) { k.ActivatedAt = time.Time{} })}, false},
		{"retired without time", []Key{c, with(r, func(k *Key) { k.RetiredAt = time.Time{} })}, false},
		{"revoked without time", []Key{c, with(x, func(k *Key) { k.RevokedAt = time.Time{} })}, false},
		{"next activated", []Key{c, with(n, func(k *Key) { k.ActivatedAt = at(1) })}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.ks)
			if got := err == nil; got != tt.ok {
				t.Fatalf("Check = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKeys) {
				t.Errorf("error %v does not wrap ErrInvalidKeys", err)
			}
		})
	}
}

func TestTooEarlyError(t *testing.T) {
	var err error = &TooEarlyError{Wait: 3 * time.Minute}
	if !errors.Is(err, ErrTooEarly) {
		t.Error("errors.Is(TooEarlyError, ErrTooEarly) = false")
	}
	var te *TooEarlyError
	if !errors.As(err, &te) || te.Wait != 3*time.Minute {
		t.Errorf("errors.As gave %v", te)
	}
	if got := err.Error(); got == "" {
		t.Error("empty message")
	}
}
