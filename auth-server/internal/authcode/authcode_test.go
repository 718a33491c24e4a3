package authcode_test

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/authcode"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func issued() store.AuthCode {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return store.AuthCode{ClientID: "app", RedirectURI: "https://app.example/cb?x=1", UserID: "u-1", LoginSessionID: "ls-1",
		Scope: []string{"openid", "profile"}, CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Nonce: "n-0S6_WzA2Mj",
		AuthTime: now.Add(-time.Minute), AMR: []string{"pwd", "otp"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
}

// TestSealOpen: a code opens to what it was issued for, with a new ID each time, on any
// Sealer of the same secret (another replica), and its bytes say nothing of it.
func TestSealOpen(t *testing.T) {
	a, err := authcode.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := authcode.New(secret)
	c := issued()
	one, err := a.Seal(c)
	if err != nil {
		t.Fatal(err)
	}
	two, _ := a.Seal(c)
	if one == two {
		t.Error("two codes for the same request are equal")
	}
	got, err := b.Open(one)
	if err != nil {
		t.Fatalf("another sealer of the same secret: %v", err)
	}
	other, _ := b.Open(two)
	if got.Hash == "" || got.Hash == other.Hash {
		t.Errorf("IDs %q and %q: want two distinct ones", got.Hash, other.Hash)
	}
	want := c
	want.Hash = got.Hash
	if !reflect.DeepEqual(got, want) {
		t.Errorf("opened %+v\nwant   %+v", got, want)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(one)
	for _, s := range []string{c.UserID, c.Nonce, c.RedirectURI, "openid"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the code shows %q", s)
		}
	}
	if len(one) > 400 {
		t.Errorf("a code of %d characters for a short request", len(one))
	}
}

// TestOpenRefuses: a code of another secret, any changed byte, a truncated or padded code,
// garbage and an over-long string are all ErrInvalid.
func TestOpenRefuses(t *testing.T) {
	a, _ := authcode.New(secret)
	other, _ := authcode.New([]byte("another secret, another server..."))
	code, _ := a.Seal(issued())
	foreign, _ := other.Seal(issued())
	raw, _ := base64.RawURLEncoding.DecodeString(code)
	cases := map[string]string{
		"another secret's": foreign,
		"truncated":        code[:len(code)-4],
		"empty":            "",
		"not base64":       "not a code!",
		"an opaque token":  base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"over-long":        strings.Repeat("A", authcode.MaxLen+1),
	}
	for _, i := range []int{0, 1, 30, len(raw) - 1} {
		changed := append([]byte(nil), raw...)
		changed[i] ^= 1
		cases["byte "+strconv.Itoa(i)+" changed"] = base64.RawURLEncoding.EncodeToString(changed)
	}
	for name, c := range cases {
		if _, err := a.Open(c); !errors.Is(err, authcode.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestNewRefusesShortSecrets: a secret under 32 bytes keys no Sealer.
func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := authcode.New(secret[:31]); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
}
