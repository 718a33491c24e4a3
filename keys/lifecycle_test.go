package keys

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestBootstrap(t *testing.T) {
	now := at(7)
	ks := Bootstrap(now, fake("c", StateNext, at(0)), fake("n", StateRetired, at(0)))
	if err := Check(ks); err != nil {
		t.Fatal(err)
	}
	c, n := byKID(t, ks, "c"), byKID(t, ks, "n")
	if c.State != StateCurrent || !c.CreatedAt.Equal(now) || !c.ActivatedAt.Equal(now) {
		t.Errorf("current = %+v, want current created and activated at now", c)
	}
	if n.State != StateNext || !n.CreatedAt.Equal(now) || !n.RetiredAt.IsZero() || !n.ActivatedAt.IsZero() {
		t.Errorf("next = %+v, want next created at now with no other times", n)
	}
}

func TestRotate(t *testing.T) {
	p := testPolicy()
	base := []Key{
		fake("old", StateRetired, at(0)), // RemoveAt = 35
		fake("c", StateCurrent, at(0)),
		fake("n", StateNext, at(60)),
	}
	f1, f2 := fake("f1", StateCurrent, at(1)), fake("f2", StateRevoked, at(1))
	tests := []struct {
		name     string
		ks       []Key
		now      time.Time
		force    bool
		fresh    []Key
		wantErr  error
		wantWait time.Duration
		want     map[string]State // every key of the result
	}{
		{name: "ready, prunes expired retired", ks: base, now: at(80), fresh: []Key{f1},
			want: map[string]State{"c": StateRetired, "n": StateCurrent, "f1": StateNext}},
		{name: "too early", ks: base, now: at(70), fresh: []Key{f1}, wantErr: ErrTooEarly, wantWait: 10 * time.Minute},
		{name: "too early by a second", ks: base, now: at(80).Add(-time.Second), fresh: []Key{f1}, wantErr: ErrTooEarly, wantWait: time.Second},
		{name: "forced early", ks: base, now: at(61), force: true, fresh: []Key{f1},
			want: map[string]State{"c": StateRetired, "n": StateCurrent, "f1": StateNext}},
		{name: "extra fresh ignored", ks: base, now: at(80), fresh: []Key{f1, f2},
			want: map[string]State{"c": StateRetired, "n": StateCurrent, "f1": StateNext}},
		{name: "no fresh", ks: base, now: at(80), wantErr: ErrNoFreshKey},
		{name: "fresh reuses a kid", ks: base, now: at(80), fresh: []Key{fake("c", StateNext, at(0))}, wantErr: ErrInvalidKeys},
		{name: "no next", ks: base[:2], now: at(80), fresh: []Key{f1, f2}, wantErr: ErrNoNextKey},
		{name: "no next forced", ks: base[:2], now: at(80), force: true, fresh: []Key{f1, f2},
			want: map[string]State{"c": StateRetired, "f1": StateCurrent, "f2": StateNext}},
		{name: "no next forced one fresh", ks: base[:2], now: at(80), force: true, fresh: []Key{f1}, wantErr: ErrNoFreshKey},
		{name: "keeps unexpired retired", ks: []Key{with(base[0], func(k *Key) { k.RetiredAt = at(50) }), base[1], base[2]},
			now: at(80), fresh: []Key{f1},
			want: map[string]State{"old": StateRetired, "c": StateRetired, "n": StateCurrent, "f1": StateNext}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.ks)
			got, err := Rotate(tt.ks, tt.now, p, tt.force, tt.fresh...)
			if !reflect.DeepEqual(before, tt.ks) {
				t.Fatal("Rotate modified its input")
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Rotate error = %v, want %v", err, tt.wantErr)
				}
				var te *TooEarlyError
				if errors.As(err, &te) != (tt.wantWait > 0) || (te != nil && te.Wait != tt.wantWait) {
					t.Errorf("TooEarlyError = %+v, want wait %v", te, tt.wantWait)
				}
				return
			}
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			checkRotated(t, got, tt.now, tt.want)
		})
	}
}

// checkRotated checks that ks holds exactly the keys of want in those states,
// that every key that changed state at now has its time set to now, and that
// ks satisfies Check.
func checkRotated(t *testing.T, ks []Key, now time.Time, want map[string]State) {
	t.Helper()
	if err := Check(ks); err != nil {
		t.Fatal(err)
	}
	if len(ks) != len(want) {
		t.Fatalf("got keys %v, want %v", kids(ks), want)
	}
	for kid, st := range want {
		k := byKID(t, ks, kid)
		if k.State != st {
			t.Errorf("%s: state %s, want %s", kid, k.State, st)
		}
	}
	c, _ := Current(ks)
	if !c.ActivatedAt.Equal(now) {
		t.Errorf("current %s activated %v, want %v", c.KID, c.ActivatedAt, now)
	}
	if n, ok := Next(ks); !ok || !n.CreatedAt.Equal(now) {
		t.Errorf("next %s created %v, want %v", n.KID, n.CreatedAt, now)
	}
}

func TestRevoke(t *testing.T) {
	base := []Key{fake("r", StateRetired, at(0)), fake("c", StateCurrent, at(0)), fake("n", StateNext, at(5))}
	fresh := fake("f", StateRetired, at(1))
	now := at(10)
	tests := []struct {
		name    string
		ks      []Key
		kid     string
		wantErr error
		want    map[string]State
	}{
		{name: "current", ks: base, kid: "c",
			want: map[string]State{"r": StateRetired, "c": StateRevoked, "n": StateCurrent, "f": StateNext}},
		{name: "next", ks: base, kid: "n",
			want: map[string]State{"r": StateRetired, "c": StateCurrent, "n": StateRevoked, "f": StateNext}},
		{name: "retired", ks: base, kid: "r",
			want: map[string]State{"r": StateRevoked, "c": StateCurrent, "n": StateNext}},
		{name: "current without next", ks: base[:2], kid: "c",
			want: map[string]State{"r": StateRetired, "c": StateRevoked, "f": StateCurrent}},
		{name: "unknown", ks: base, kid: "zz", wantErr: ErrUnknownKey},
		{name: "already revoked", ks: []Key{base[1], fake("x", StateRevoked, at(0))}, kid: "x", wantErr: ErrAlreadyRevoked},
	}
	p := testPolicy()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.ks)
			got, err := Revoke(tt.ks, tt.kid, now, fresh)
			if !reflect.DeepEqual(before, tt.ks) {
				t.Fatal("Revoke modified its input")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Revoke error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if err := Check(got); err != nil {
				t.Fatal(err)
			}
			for kid, st := range tt.want {
				if k := byKID(t, got, kid); k.State != st {
					t.Errorf("%s: state %s, want %s", kid, k.State, st)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got keys %v, want %v", kids(got), tt.want)
			}
			if k := byKID(t, got, tt.kid); !k.RevokedAt.Equal(now) {
				t.Errorf("RevokedAt = %v, want %v", k.RevokedAt, now)
			}
			if slices.Contains(kids(Published(got, now, p)), tt.kid) {
				t.Errorf("revoked key %s still published", tt.kid)
			}
		})
	}
}

func TestRevokeUsesFreshOnlyWhenNeeded(t *testing.T) {
	ks := []Key{fake("r", StateRetired, at(0)), fake("c", StateCurrent, at(0)), fake("n", StateNext, at(5))}
	if _, err := Revoke(ks, "r", at(10), Key{}); err != nil {
		t.Errorf("revoking a retired key with no fresh key: %v", err)
	}
	if _, err := Revoke(ks, "c", at(10), Key{}); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("revoking the current key with an empty fresh key: %v, want ErrInvalidKeys", err)
	}
}

func TestPrune(t *testing.T) {
	p := testPolicy()
	ks := []Key{
		with(fake("r1", StateRetired, at(0)), func(k *Key) { k.RetiredAt = at(0) }),  // RemoveAt 35
		with(fake("r2", StateRetired, at(0)), func(k *Key) { k.RetiredAt = at(30) }), // RemoveAt 65
		fake("x", StateRevoked, at(0)),
		fake("c", StateCurrent, at(0)),
		fake("n", StateNext, at(0)),
	}
	keep := int(KeepRevoked / time.Minute)
	tests := []struct {
		now  time.Time
		want []string
	}{
		{at(34), []string{"r1", "r2", "x", "c", "n"}},
		{at(35), []string{"r2", "x", "c", "n"}},
		{at(65), []string{"x", "c", "n"}},
		{at(keep - 1), []string{"x", "c", "n"}},
		{at(keep), []string{"c", "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.now.String(), func(t *testing.T) {
			if got := kids(Prune(ks, tt.now, p)); !slices.Equal(got, tt.want) {
				t.Errorf("Prune = %v, want %v", got, tt.want)
			}
		})
	}
}
