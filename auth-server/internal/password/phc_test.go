package password

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// small are cheap parameters for tests where the cost is not the point.
var small = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// Vectors made with the reference implementation's CLI (Debian package
// argon2, phc-winner-argon2 20171227), e.g.
// echo -n pw | argon2 saltsalt -id -t 1 -k 64 -p 1 -l 32 -e
const (
	refSmall   = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$hdOCkfYHTj0inTmhuQhoZlVQ3N/UnQ5yjkawWQaIZAo"
	refSmallP2 = "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHQ$WzzXRLkOL++1hwV/ciabU08qyxzBoKU60hylMFoXLKg"
	refDefault = "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0"
)

func TestPHCRoundTrip(t *testing.T) {
	salt := bytes.Repeat([]byte{0xa5}, 16)
	key := bytes.Repeat([]byte{0x5a}, 32)
	enc := encodePHC(small, salt, key)
	got, err := decodePHC(enc)
	if err != nil {
		t.Fatalf("decodePHC(%q): %v", enc, err)
	}
	if got.params != small || !bytes.Equal(got.salt, salt) || !bytes.Equal(got.key, key) {
		t.Errorf("decodePHC(encodePHC(x)) = %+v, want params %+v", got, small)
	}
}

func TestHashFormat(t *testing.T) {
	h := NewHasher(small, 1)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Errorf("Hash = %q, want match for %s", enc, re)
	}
}

func TestDecodePHCMalformed(t *testing.T) {
	const salt, key = "c2FsdHNhbHQ", "hdOCkfYHTj0inTmhuQhoZlVQ3N/UnQ5yjkawWQaIZAo"
	mk := func(alg, ver, params, s, k string) string {
		return "$" + alg + "$" + ver + "$" + params + "$" + s + "$" + k
	}
	ok := func(params string) string { return mk("argon2id", "v=19", params, salt, key) }
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"plaintext", "hunter2"},
		{"argon2i", mk("argon2i", "v=19", "m=64,t=1,p=1", salt, key)},
		{"argon2d", mk("argon2d", "v=19", "m=64,t=1,p=1", salt, key)},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", mk("argon2id", "v=16", "m=64,t=1,p=1", salt, key)},
		{"version spaced", mk("argon2id", "v= 19", "m=64,t=1,p=1", salt, key)},
		{"params out of order", ok("t=1,m=64,p=1")},
		{"param missing", ok("m=64,t=1")},
		{"param extra", ok("m=64,t=1,p=1,k=2")},
		{"param unknown", ok("m=64,x=1,p=1")},
		{"m zero", ok("m=0,t=1,p=1")},
		{"t zero", ok("m=64,t=0,p=1")},
		{"p zero", ok("m=64,t=1,p=0")},
		{"m below 8p", ok("m=15,t=1,p=2")},
		{"p over 255", ok("m=4096,t=1,p=256")},
		{"m over 4GiB", ok("m=4194305,t=1,p=1")},
		{"m negative", ok("m=-64,t=1,p=1")},
		{"m signed", ok("m=+64,t=1,p=1")},
		{"m spaced", ok("m= 64,t=1,p=1")},
		{"m hex", ok("m=0x40,t=1,p=1")},
		{"t overflow", ok("m=64,t=4294967296,p=1")},
		{"salt padded", mk("argon2id", "v=19", "m=64,t=1,p=1", salt+"=", key)},
		{"salt bad char", mk("argon2id", "v=19", "m=64,t=1,p=1", "c2Fsd*NhbHQ", key)},
		{"salt url alphabet", mk("argon2id", "v=19", "m=64,t=1,p=1", "c2Fsd_NhbHQ", key)},
		{"salt too short", mk("argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", key)},
		{"salt empty", mk("argon2id", "v=19", "m=64,t=1,p=1", "", key)},
		{"key too short", mk("argon2id", "v=19", "m=64,t=1,p=1", salt, "c2FsdHNhbHQ")},
		{"key non-canonical", mk("argon2id", "v=19", "m=64,t=1,p=1", salt, strings.TrimSuffix(key, "o")+"p")},
		{"key empty", mk("argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{"extra field", ok("m=64,t=1,p=1") + "$x"},
		{"trailing dollar", ok("m=64,t=1,p=1") + "$"},
		{"no leading dollar", strings.TrimPrefix(ok("m=64,t=1,p=1"), "$")},
		{"bcrypt short", "$2b$12$abc"},
		{"bcrypt 2x", "$2x$04$" + strings.Repeat("a", 53)},
		{"bcrypt cost 3", "$2b$03$" + strings.Repeat("a", 53)},
		{"bcrypt cost 17", "$2b$17$" + strings.Repeat("a", 53)},
		{"bcrypt cost letters", "$2b$1x$" + strings.Repeat("a", 53)},
		{"bcrypt no separator", "$2b$04x" + strings.Repeat("a", 53)},
		{"bcrypt bad salt", "$2b$04$" + strings.Repeat("*", 53)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHasher(small, 1)
			derived := 0
			h.derive = func(pw, salt []byte, p Params) []byte { derived++; return deriveArgon2id(pw, salt, p) }
			ok, rehash, err := h.Verify(context.Background(), "pw", tt.in)
			if !errors.Is(err, ErrMalformedHash) || ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformedHash", tt.in, ok, rehash, err)
			}
			if derived != 0 {
				t.Errorf("Verify(%q) derived an argon2 key for a malformed hash", tt.in)
			}
		})
	}
}

func TestVerifyReferenceVectors(t *testing.T) {
	tests := []struct {
		name       string
		hasher     Params
		encoded    string
		password   string
		wantOK     bool
		wantRehash bool
	}{
		{"small", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 8}, refSmall, "pw", true, false},
		{"small wrong", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 8}, refSmall, "pW", false, false},
		{"salt length differs", small, refSmall, "pw", true, true},
		{"two lanes", small, refSmallP2, "pw", true, true},
		{"default params", DefaultParams(), refDefault, "correct horse battery staple", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := NewHasher(tt.hasher, 1).Verify(context.Background(), tt.password, tt.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}
}
