package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// TestAppendMatchesEncodingJSON holds the hand-written encoders to the bytes json.Encoder
// writes for the same values.
func TestAppendMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	full := verifier.Claims{Issuer: "https://auth.test", Subject: "0b0c5a57-4bfb-4c3d-9a66-8c3f5e2a1d10",
		Audience: []string{"resource-server"}, Expiry: now.Add(15 * time.Minute), IssuedAt: now, NotBefore: now,
		ID: "jti-1", SessionID: "sid-1", PreferredUsername: "alice", Email: "alice@example.com",
		Type: "at+jwt", KeyID: "k1", Algorithm: "ES256",
		ClientID: "first-party", Scope: "openid notes:read", Roles: []string{"admin", "x"}, AMR: []string{"pwd"}, EmailVerified: true}
	edit := func(f func(c *verifier.Claims)) verifier.Claims {
		c := full
		f(&c)
		return c
	}
	odd := "<script>&\"\\\x00\x1f\u2028\u2029é\xff日本"
	cases := []struct {
		name string
		c    verifier.Claims
	}{
		{"full", full},
		{"zero value", verifier.Claims{}},
		{"optional fields empty", edit(func(c *verifier.Claims) {
			c.NotBefore, c.SessionID, c.PreferredUsername, c.Email, c.KeyID = time.Time{}, "", "", "", ""
		})},
		{"empty audience", edit(func(c *verifier.Claims) { c.Audience = []string{} })},
		{"empty roles and amr", edit(func(c *verifier.Claims) { c.Roles, c.AMR, c.EmailVerified = []string{}, []string{}, false })},
		{"no roles, client or scope", edit(func(c *verifier.Claims) { c.Roles, c.AMR, c.ClientID, c.Scope = nil, nil, "", "" })},
		{"several audiences", edit(func(c *verifier.Claims) { c.Audience = []string{"a", odd, "c"} })},
		{"strings to escape", edit(func(c *verifier.Claims) {
			c.Issuer, c.Subject, c.ID, c.SessionID, c.PreferredUsername, c.Email, c.Type, c.KeyID, c.Algorithm = odd, odd, odd, odd, odd, odd, odd, odd, odd
			c.ClientID, c.Scope, c.Roles, c.AMR = odd, odd, []string{odd}, []string{odd, odd}
		})},
		{"fractions and zones", edit(func(c *verifier.Claims) {
			c.Expiry = now.Add(1500 * time.Millisecond)
			c.IssuedAt = now.In(time.FixedZone("x", -7*3600-30*60))
			c.NotBefore = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
		})},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendClaims(nil, &tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if want := encoded(t, &tt.c); !bytes.Equal(got, want) {
				t.Fatalf("appendClaims =\n%s\nencoding/json =\n%s", got, want)
			}
		})
	}
	for _, user := range []string{"alice", "", odd, "a b.c_d-e@f"} {
		t.Run("awesome "+user, func(t *testing.T) {
			got := appendAwesome(nil, user)
			want := encoded(t, map[string]string{"accessed_user": user, "msg": awesomeMsg})
			if !bytes.Equal(got, want) {
				t.Fatalf("appendAwesome = %s, encoding/json = %s", got, want)
			}
		})
	}
	t.Run("year past 9999", func(t *testing.T) {
		c := edit(func(c *verifier.Claims) { c.Expiry = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })
		if _, err := appendClaims(nil, &c); err == nil {
			t.Fatal("appendClaims encoded a time encoding/json refuses")
		}
		if err := json.NewEncoder(&bytes.Buffer{}).Encode(&c); err == nil {
			t.Fatal("encoding/json encoded year 10000: the fallback above is wrong")
		}
	})
}

func encoded(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
