package mfa_test

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/jwtauth/jwtauth/auth-server/internal/mfa"
)

// rfcSecret is the RFC 6238 appendix B SHA-1 key ("12345678901234567890") in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestCodeRFC6238Vectors(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, truncated to 6 digits (the 8-digit values' last six).
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := mfa.Code(rfcSecret, mfa.Step(time.Unix(tc.unix, 0)))
		if err != nil || got != tc.want {
			t.Errorf("code at %d = %q, %v; want %q", tc.unix, got, err, tc.want)
		}
	}
}

func TestMatchWindowAndSkew(t *testing.T) {
	now := time.Unix(1_800_000_015, 0) // 15 s into a step
	cur := mfa.Step(now)
	code := func(step int64) string {
		c, err := mfa.Code(rfcSecret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		code   string
		at     time.Time
		step   int64
		wantOK bool
	}{
		{"current step", code(cur), now, cur, true},
		{"previous step (skew)", code(cur - 1), now, cur - 1, true},
		{"next step (skew)", code(cur + 1), now, cur + 1, true},
		{"two steps old", code(cur - 2), now, 0, false},
		{"two steps ahead", code(cur + 2), now, 0, false},
		{"last second of the step", code(cur), now.Add(14 * time.Second), cur, true},
		{"a step later, still within skew", code(cur), now.Add(30 * time.Second), cur, true},
		{"two steps later, expired", code(cur), now.Add(60 * time.Second), 0, false},
		{"spaces ignored", code(cur)[:3] + " " + code(cur)[3:], now, cur, true},
		{"not digits", "12a456", now, 0, false},
		{"too short", "12345", now, 0, false},
		{"empty", "", now, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok, err := mfa.Match(rfcSecret, tc.code, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || (ok && step != tc.step) {
				t.Errorf("Match = %d, %v; want %d, %v", step, ok, tc.step, tc.wantOK)
			}
		})
	}
}

func TestNewTOTPRoundTrip(t *testing.T) {
	e, err := mfa.NewTOTP("auth.example.com", "alice")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q: %v", e.URI, err)
	}
	q := u.Query()
	if q.Get("secret") != e.Secret || q.Get("issuer") != "auth.example.com" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("uri parameters %v", q)
	}
	if len(e.Secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q: want 32 base32 characters", e.Secret)
	}
	now := time.Now()
	c, _ := mfa.Code(e.Secret, mfa.Step(now))
	if _, ok, _ := mfa.Match(e.Secret, c, now); !ok {
		t.Error("own code does not match")
	}
}

func TestQRPNGDecodes(t *testing.T) {
	e, err := mfa.NewTOTP("auth.example.com", "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mfa.QRPNG(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if got := DecodeQR(t, raw); got != e.URI {
		t.Errorf("QR decodes to %q, want %q", got, e.URI)
	}
	if d := mfa.DataURI(raw); !strings.HasPrefix(d, "data:image/png;base64,") {
		t.Errorf("data URI %q…", d[:30])
	}
}

// DecodeQR reads the text of a QR code PNG.
func DecodeQR(t testing.TB, raw []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The image is a generated one, module-aligned: read it as such (gozxing's detector,
	// meant for photos, misses about 1 % of clean codes that other decoders read).
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.GetText()
}

func TestRecoveryCodes(t *testing.T) {
	codes := mfa.NewRecoveryCodes()
	if len(codes) != mfa.RecoveryCodes {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !mfa.LooksLikeRecovery(c) || len(c) != 19 || seen[c] {
			t.Errorf("code %q: malformed or repeated", c)
		}
		seen[c] = true
	}
	c := codes[0]
	if mfa.HashRecovery("u1", c) != mfa.HashRecovery("u1", strings.ToUpper(strings.ReplaceAll(c, "-", " "))) {
		t.Error("hash depends on letter case or separators")
	}
	if mfa.HashRecovery("u1", c) == mfa.HashRecovery("u2", c) {
		t.Error("two users' equal codes share a hash")
	}
	if mfa.LooksLikeRecovery("123456") || mfa.LooksLikeTOTP(c) {
		t.Error("a TOTP code and a recovery code are told apart by form")
	}
}

// TestQRPNGDecodesAlways decodes many codes: the decoder must read every one.
func TestQRPNGDecodesAlways(t *testing.T) {
	for i := range 200 {
		e, err := mfa.NewTOTP("auth.example.com", "user"+strings.Repeat("x", i%20))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := mfa.QRPNG(e.URI)
		if err != nil {
			t.Fatal(err)
		}
		if got := DecodeQR(t, raw); got != e.URI {
			t.Fatalf("QR decodes to %q, want %q", got, e.URI)
		}
	}
}
