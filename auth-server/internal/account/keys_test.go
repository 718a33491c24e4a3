package account

import "testing"

func TestThrottleKeys(t *testing.T) {
	for _, tc := range []struct {
		name, userID, login, ip string
		wantAcct, wantAddr      string
	}{
		{"known user by username", "u-1", "Alice", "192.0.2.7", "account:u-1", "address:192.0.2.7"},
		{"known user by email", "u-1", "alice@example.com", "192.0.2.7", "account:u-1", "address:192.0.2.7"},
		{"unknown login lower-cased", "", "Mallory@Example.com", "192.0.2.7", "login:mallory@example.com", "address:192.0.2.7"},
		{"ipv6 counted per /64", "u-1", "", "2001:db8:1:2:3:4:5:6", "account:u-1", "address:2001:db8:1:2::/64"},
		{"ipv4-mapped ipv6 is ipv4", "u-1", "", "::ffff:192.0.2.9", "account:u-1", "address:::ffff:192.0.2.9"},
		{"not an address", "u-1", "", "pipe", "account:u-1", "address:pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := accountKey(tc.userID, tc.login); got != tc.wantAcct {
				t.Errorf("accountKey = %q, want %q", got, tc.wantAcct)
			}
			if got := addressKey(tc.ip); got != tc.wantAddr {
				t.Errorf("addressKey = %q, want %q", got, tc.wantAddr)
			}
		})
	}
}

func TestInputRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"username too short", second(normalizeUsername("ab")), ErrInvalidUsername},
		{"username bad rune", second(normalizeUsername("a b c")), ErrInvalidUsername},
		{"username ok", second(normalizeUsername(" Bob.Smith ")), nil},
		{"email without dot", second(normalizeEmail("a@b")), ErrInvalidEmail},
		{"email with name", second(normalizeEmail("A <a@b.c>")), ErrInvalidEmail},
		{"email ok", second(normalizeEmail("A@B.example")), nil},
		{"password short", checkPassword("1234567"), ErrInvalidPassword},
		{"password ok", checkPassword("12345678"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err != tc.want {
				t.Errorf("got %v, want %v", tc.err, tc.want)
			}
		})
	}
}

func second(_ string, err error) error { return err }
