package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestCheckHash(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	argon, err := h.Hash(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}
	bc := string(b)
	for _, tc := range []struct {
		name, hash string
		ok         bool
	}{
		{"bcrypt 2a", bc, true},
		{"bcrypt 2b", strings.Replace(bc, "$2a$", "$2b$", 1), true},
		{"bcrypt 2y", strings.Replace(bc, "$2a$", "$2y$", 1), true},
		{"bcrypt 2x refused", strings.Replace(bc, "$2a$", "$2x$", 1), false},
		{"bcrypt truncated", bc[:50], false},
		{"bcrypt cost too high", strings.Replace(bc, "$04$", "$31$", 1), false},
		{"argon2id", argon, true},
		{"argon2i refused", strings.Replace(argon, "$argon2id$", "$argon2i$", 1), false},
		{"md5 crypt", "$1$salt$hash", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHash(tc.hash)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckHash = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformedHash) {
				t.Errorf("error %v does not wrap ErrMalformedHash", err)
			}
			if tc.ok { // whatever CheckHash accepts, Verify can check
				if _, _, err := h.Verify(context.Background(), "password", tc.hash); err != nil {
					t.Errorf("Verify refused an accepted hash: %v", err)
				}
			}
		})
	}
}
