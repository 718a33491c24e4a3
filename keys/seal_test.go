package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// randomKEK returns a random 32-byte key-encryption key.
func randomKEK(t testing.TB) []byte {
	t.Helper()
	kek := make([]byte, kekSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	return kek
}

// newTestSealer returns a Sealer under a random KEK.
func newTestSealer(t testing.TB) *Sealer {
	t.Helper()
	s, err := NewSealer(randomKEK(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseKEK(t *testing.T) {
	kek := randomKEK(t)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex lower", hex.EncodeToString(kek), true},
		{"hex upper", strings.ToUpper(hex.EncodeToString(kek)), true},
		{"base64 std padded", base64.StdEncoding.EncodeToString(kek), true},
		{"base64 std raw", base64.RawStdEncoding.EncodeToString(kek), true},
		{"base64 url padded", base64.URLEncoding.EncodeToString(kek), true},
		{"base64 url raw", base64.RawURLEncoding.EncodeToString(kek), true},
		{"surrounding whitespace", " " + hex.EncodeToString(kek) + "\n", true},
		{"empty", "", false},
		{"short hex", hex.EncodeToString(kek[:31]), false},
		{"long base64", base64.StdEncoding.EncodeToString(append(kek, 0)), false},
		{"not an encoding", strings.Repeat("!", 64), false},
		{"the words", "correct horse battery staple", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKEK(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseKEK error = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrBadKEK) {
					t.Errorf("error %v does not wrap ErrBadKEK", err)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q echoes the secret", err)
				}
				return
			}
			if !bytes.Equal(got, kek) {
				t.Errorf("ParseKEK = %x, want %x", got, kek)
			}
		})
	}
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); !errors.Is(err, ErrBadKEK) {
			t.Errorf("NewSealer(%d bytes) error = %v, want ErrBadKEK", n, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	s := newTestSealer(t)
	plain := []byte("private key bytes, PKCS#8 DER in real life")
	sealed, err := s.Seal("kid-1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed bytes contain the plaintext")
	}
	again, err := s.Seal("kid-1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Error("sealing twice gave the same bytes; nonce not random")
	}
	got, err := s.Open("kid-1", sealed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("Open = %q, want %q", got, plain)
	}
	if _, err := s.Seal("", plain); err == nil {
		t.Error("Seal with an empty kid succeeded")
	}
}

func TestOpenFails(t *testing.T) {
	s := newTestSealer(t)
	sealed, err := s.Seal("kid-1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		sealer *Sealer
		kid    string
		sealed []byte
	}{
		{"wrong kek", newTestSealer(t), "kid-1", sealed},
		{"swapped kid", s, "kid-2", sealed},
		{"empty kid", s, "", sealed},
		{"tampered version", s, "kid-1", tamper(0)},
		{"tampered nonce", s, "kid-1", tamper(1)},
		{"tampered ciphertext", s, "kid-1", tamper(len(sealed) - 20)},
		{"tampered tag", s, "kid-1", tamper(len(sealed) - 1)},
		{"truncated", s, "kid-1", sealed[:len(sealed)-1]},
		{"too short", s, "kid-1", sealed[:10]},
		{"empty", s, "kid-1", nil},
		{"nil sealer", nil, "kid-1", sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.kid, tt.sealed)
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open = %q, %v; want ErrUnseal", got, err)
			}
		})
	}
}
