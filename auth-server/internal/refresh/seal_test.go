package refresh_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwtauth/jwtauth/auth-server/internal/refresh"
)

func TestSealOpen(t *testing.T) {
	parent, parentHash, err := refresh.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	child, _, err := refresh.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := refresh.Seal(parent, child)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, child) || strings.Contains(sealed, parent) {
		t.Fatal("sealed form contains a token in the clear")
	}
	got, err := refresh.Open(parent, sealed)
	if err != nil || got != child {
		t.Fatalf("Open = %q, %v; want the child", got, err)
	}
	again, err := refresh.Seal(parent, child)
	if err != nil {
		t.Fatal(err)
	}
	if again == sealed {
		t.Error("two seals are equal: the nonce is not random")
	}
	other, _, _ := refresh.NewToken()
	flipped := []byte(sealed)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct{ name, parent, sealed string }{
		{"other parent", other, sealed},
		{"stored hash as key", parentHash, sealed},
		{"tampered", parent, string(flipped)},
		{"truncated", parent, sealed[:10]},
		{"not base64", parent, "!!!"},
		{"empty", parent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := refresh.Open(tc.parent, tc.sealed); !errors.Is(err, refresh.ErrUnseal) {
				t.Errorf("Open = %v, want ErrUnseal", err)
			}
		})
	}
}

func TestNewTokenHash(t *testing.T) {
	a, ha, err := refresh.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := refresh.NewToken()
	if a == b || ha == hb {
		t.Fatal("two tokens are equal")
	}
	if len(a) < 43 {
		t.Errorf("token %d chars, want >= 43 (256 bits)", len(a))
	}
	if refresh.Hash(a) != ha || ha == a {
		t.Error("Hash is not the stored hash, or is the token")
	}
}
