package syncrelay_test

import (
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/syncrelay"
)

func TestBackoffDelay(t *testing.T) {
	b := syncrelay.Backoff{Base: time.Second, Max: 5 * time.Minute}
	cases := []struct {
		name string
		n    int
		r    float64
		want time.Duration
	}{
		{"first failure, low jitter", 1, 0, 500 * time.Millisecond},
		{"first failure, high jitter", 1, 0.999999, time.Second - time.Microsecond},
		{"doubles", 2, 0, time.Second},
		{"doubles again", 4, 0.5, 6 * time.Second},
		{"not yet capped", 9, 1, 256 * time.Second},
		{"capped", 10, 0, 150 * time.Second},
		{"capped at the top", 10, 1, 5 * time.Minute},
		{"never overflows", 500, 1, 5 * time.Minute},
		{"jitter below range is clamped", 1, -1, 500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := b.Delay(tc.n, tc.r)
			if diff := got - tc.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("Delay(%d, %v) = %v, want %v", tc.n, tc.r, got, tc.want)
			}
		})
	}
}
