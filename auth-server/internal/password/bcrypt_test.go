package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes made by the Python system's library, passlib 1.7.4 (bcrypt backend
// 3.2.2), e.g. CryptContext(schemes=["bcrypt"]).hash(pw): $2b$, cost 12.
const (
	passlibCost12 = "$2b$12$pwxGGuIt52FTp5CoslfRgeflZCV9AT.n/go9Xjzcx39mc/AID1thu" // correct horse battery staple
	passlib2a     = "$2a$04$csxyNJDnaLFChVh/lc66de23FoUBeoOYSGNmay5QHReMSCsGS4.tW" // legacy-2a
	passlib2y     = "$2y$04$vS6EDaDbHEk9vdTpEzcGru1QyA0Mi2NamH1opZ39aQHe7SDuezlwy" // legacy-2y
	// "a"*71 + "é" + "tail-ignored" (85 bytes): byte 72 is é's first byte.
	passlibLongUTF8 = "$2b$04$pDDqp0ys2nDgxZ6Wx6fDFeZUqfwoFrDr6E9y3sENXOIYAzWJdVgrW"
	passlibX100     = "$2b$04$bZDBmdOw4E./fMcoU5UHY.9YEBgcblrbBS47kZJlURajZKFh6y93G" // "x"*100
)

func TestVerifyPasslibBcrypt(t *testing.T) {
	a71 := strings.Repeat("a", 71)
	tests := []struct {
		name, encoded, password string
		wantOK                  bool
	}{
		{"cost 12", passlibCost12, "correct horse battery staple", true},
		{"2a", passlib2a, "legacy-2a", true},
		{"2a wrong", passlib2a, "legacy-2A", false},
		{"2y", passlib2y, "legacy-2y", true},
		{"2y wrong", passlib2y, "legacy-2", false},
		{"long as stored", passlibLongUTF8, a71 + "é" + "tail-ignored", true},
		{"long cut after 72 bytes", passlibLongUTF8, a71 + "é", true},
		{"long same first byte of another rune", passlibLongUTF8, a71 + "è-other", true},
		{"long 71 bytes", passlibLongUTF8, a71, false},
		{"long differs at byte 72", passlibLongUTF8, a71 + "a", false},
		{"x100 as stored", passlibX100, strings.Repeat("x", 100), true},
		{"x100 first 72", passlibX100, strings.Repeat("x", 72), true},
		{"x100 shares 72", passlibX100, strings.Repeat("x", 72) + "anything else", true},
		{"x100 71 bytes", passlibX100, strings.Repeat("x", 71), false},
		{"x100 differs at byte 1", passlibX100, "y" + strings.Repeat("x", 99), false},
	}
	h := NewHasher(small, 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), tt.password, tt.encoded)
			if err != nil {
				t.Fatal(err)
			}
			// Every bcrypt hash is to be replaced, once the password is known.
			if ok != tt.wantOK || rehash != tt.wantOK {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantOK)
			}
		})
	}
}

func TestVerifyGeneratedBcrypt(t *testing.T) {
	long := strings.Repeat("0123456789", 10) // 100 bytes
	// x/crypto/bcrypt refuses to hash more than 72 bytes; that is why
	// Verify truncates to 72 bytes itself before comparing.
	if _, err := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost); !errors.Is(err, bcrypt.ErrPasswordTooLong) {
		t.Fatalf("GenerateFromPassword(100 bytes) err = %v, want ErrPasswordTooLong", err)
	}
	gen := func(pw string) string {
		t.Helper()
		b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	short, long72 := gen("s3cret-pw"), gen(long[:72])
	tests := []struct {
		name, encoded, password string
		wantOK                  bool
	}{
		{"2b right", short, "s3cret-pw", true},
		{"2b wrong", short, "s3cret-pW", false},
		{"2b empty", short, "", false},
		{"2a right", "$2a$" + short[4:], "s3cret-pw", true},
		{"2y right", "$2y$" + short[4:], "s3cret-pw", true},
		{"over 72 bytes", long72, long, true},
		{"shares first 72 bytes", long72, long[:72] + "something else", true},
		{"exactly 72 bytes", long72, long[:72], true},
		{"71 bytes", long72, long[:71], false},
		{"differs within 72 bytes", long72, "X" + long[1:], false},
	}
	h := NewHasher(small, 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), tt.password, tt.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash != tt.wantOK {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantOK)
			}
		})
	}
}

func TestBcryptRunsInTheBoundedQueue(t *testing.T) {
	h := NewHasher(small, 1)
	h.sem <- struct{}{} // occupy the only slot
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		ok, _, err := h.Verify(context.Background(), "legacy-2a", passlib2a)
		done <- result{ok, err}
	}()
	waitFor(t, "bcrypt verify waiting", func() bool { _, w := h.Stats(); return w == 1 })
	select {
	case r := <-done:
		t.Fatalf("Verify finished while the only slot was taken: %+v", r)
	default:
	}
	<-h.sem // free the slot
	if r := <-done; r.err != nil || !r.ok {
		t.Errorf("Verify = %v, %v; want true, nil", r.ok, r.err)
	}
}
