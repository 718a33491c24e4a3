package refresh_test

import (
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
)

func TestDecide(t *testing.T) {
	p := refresh.Policy{IdleTTL: time.Hour, MaxTTL: 24 * time.Hour, ReuseGrace: 10 * time.Second}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	live := refresh.State{TokenExpiresAt: now.Add(time.Minute), SessionExpiresAt: now.Add(time.Hour)}
	with := func(f func(*refresh.State)) refresh.State { s := live; f(&s); return s }
	for _, tc := range []struct {
		name string
		st   refresh.State
		want refresh.Outcome
	}{
		{"unspent", live, refresh.Rotate},
		{"unspent expired", with(func(s *refresh.State) { s.TokenExpiresAt = now }), refresh.Invalid},
		{"session revoked", with(func(s *refresh.State) { s.SessionRevoked = true }), refresh.Invalid},
		{"user disabled", with(func(s *refresh.State) { s.UserDisabled = true }), refresh.Invalid},
		{"user disabled, spent token: no reuse alarm", with(func(s *refresh.State) { s.UserDisabled, s.SpentAt, s.ChildSpent = true, now.Add(-time.Hour), true }), refresh.Invalid},
		{"session ended", with(func(s *refresh.State) { s.SessionExpiresAt = now }), refresh.Invalid},
		{"spent child unspent", with(func(s *refresh.State) { s.SpentAt = now.Add(-time.Hour + time.Second) }), refresh.Replay},
		{"spent child spent within grace", with(func(s *refresh.State) {
			s.SpentAt, s.ChildSpent = now.Add(-9*time.Second), true
		}), refresh.Replay},
		{"spent child spent at grace end", with(func(s *refresh.State) {
			s.SpentAt, s.ChildSpent = now.Add(-10*time.Second), true
		}), refresh.Reuse},
		{"spent child spent after grace", with(func(s *refresh.State) {
			s.SpentAt, s.ChildSpent = now.Add(-time.Minute), true
		}), refresh.Reuse},
		{"spent expired child spent", with(func(s *refresh.State) {
			s.SpentAt, s.ChildSpent, s.TokenExpiresAt = now.Add(-time.Minute), true, now.Add(-time.Second)
		}), refresh.Reuse},
		{"spent expired child unspent", with(func(s *refresh.State) {
			s.SpentAt, s.TokenExpiresAt = now.Add(-time.Minute), now.Add(-time.Second)
		}), refresh.Invalid},
		{"reuse in revoked session", with(func(s *refresh.State) {
			s.SpentAt, s.ChildSpent, s.SessionRevoked = now.Add(-time.Minute), true, true
		}), refresh.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Decide(tc.st, now); got != tc.want {
				t.Errorf("Decide = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReplayAllowed(t *testing.T) {
	p := refresh.Policy{ReuseGrace: 10 * time.Second}
	spent := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		after      time.Duration
		childSpent bool
		want       bool
	}{
		{"child unspent long after", 24 * time.Hour, false, true},
		{"child spent at once", 0, true, true},
		{"child spent just inside grace", 10*time.Second - time.Millisecond, true, true},
		{"child spent at grace", 10 * time.Second, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.ReplayAllowed(spent, spent.Add(tc.after), tc.childSpent); got != tc.want {
				t.Errorf("ReplayAllowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyExpiries(t *testing.T) {
	p := refresh.Policy{IdleTTL: time.Hour, MaxTTL: 2 * time.Hour}
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	end := p.SessionExpiry(created)
	if want := created.Add(2 * time.Hour); !end.Equal(want) {
		t.Fatalf("SessionExpiry = %v, want %v", end, want)
	}
	if got, want := p.TokenExpiry(created, end), created.Add(time.Hour); !got.Equal(want) {
		t.Errorf("TokenExpiry early = %v, want %v", got, want)
	}
	if got := p.TokenExpiry(created.Add(90*time.Minute), end); !got.Equal(end) {
		t.Errorf("TokenExpiry late = %v, want the session end %v", got, end)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[refresh.Outcome]string{refresh.Invalid: "invalid", refresh.Rotate: "rotated", refresh.Replay: "replay", refresh.Reuse: "reuse"} {
		if got := o.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", o, got, want)
		}
	}
}
