package accesstoken

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPayloadJSON(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	p := Payload{Issuer: "https://auth.test", Subject: "u1", Audience: []string{"rs"}, ID: "j1", SessionID: "s1"}
	p.SetTimes(now, 15*time.Minute)
	cases := []struct {
		name string
		edit func(p *Payload)
		want string
	}{
		{"roles nil is []", func(p *Payload) {},
			`{"iss":"https://auth.test","sub":"u1","aud":"rs","exp":1893554345,"iat":1893553445,"nbf":1893553445,"jti":"j1","sid":"s1","roles":[]}`},
		{"email carries email_verified", func(p *Payload) { p.Email = "a@b.c" },
			`{"iss":"https://auth.test","sub":"u1","aud":"rs","exp":1893554345,"iat":1893553445,"nbf":1893553445,"jti":"j1","sid":"s1","email":"a@b.c","roles":[],"email_verified":false}`},
		{"everything", func(p *Payload) {
			p.ClientID, p.Scope, p.Roles, p.AMR = "first-party", "openid notes:read", []string{"admin"}, []string{AMRPassword}
			p.PreferredUsername, p.Email, p.EmailVerified = "alice", "a@b.c", true
		}, `{"iss":"https://auth.test","sub":"u1","aud":"rs","exp":1893554345,"iat":1893553445,"nbf":1893553445,"jti":"j1","sid":"s1","client_id":"first-party","scope":"openid notes:read","amr":["pwd"],"preferred_username":"alice","email":"a@b.c","roles":["admin"],"email_verified":true}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			tc.edit(&q)
			got, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			c, err := Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if c.Roles == nil || c.Subject != "u1" || c.Email != q.Email || c.EmailVerified != q.EmailVerified ||
				c.Scope != q.Scope || !c.Expiry.Equal(now.Truncate(time.Second).Add(15*time.Minute)) {
				t.Fatalf("Decode = %+v", c)
			}
		})
	}
}

func TestDecodeRefusesWrongTypes(t *testing.T) {
	for _, bad := range []string{`[]`, `{"roles":"admin"}`, `{"exp":"soon"}`, `{"email_verified":"yes"}`, `{"aud":1}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) succeeded", bad)
		}
	}
}

func TestCheckTimesLeeway(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	leeway := 30 * time.Second
	at := func(exp, iat, nbf time.Duration) *Claims {
		return &Claims{Expiry: now.Add(exp), IssuedAt: now.Add(iat), NotBefore: now.Add(nbf)}
	}
	cases := []struct {
		name string
		c    *Claims
		want error
	}{
		{"valid", at(time.Minute, 0, 0), nil},
		{"expired inside the leeway", at(-29*time.Second, -time.Hour, -time.Hour), nil},
		{"expired at the leeway", at(-30*time.Second, -time.Hour, -time.Hour), ErrExpired},
		{"iat ahead inside the leeway", at(time.Hour, 30*time.Second, 0), nil},
		{"iat ahead beyond the leeway", at(time.Hour, 31*time.Second, 0), ErrNotYetValid},
		{"nbf ahead beyond the leeway", at(time.Hour, 0, 31*time.Second), ErrNotYetValid},
		{"no nbf", &Claims{Expiry: now.Add(time.Hour), IssuedAt: now}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.c.CheckTimes(now, leeway); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("CheckTimes = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckRequired(t *testing.T) {
	full := Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, Expiry: time.Unix(2, 0), IssuedAt: time.Unix(1, 0), ID: "j", SessionID: "sid"}
	for _, tc := range []struct {
		missing string
		edit    func(c *Claims)
	}{
		{"iss", func(c *Claims) { c.Issuer = "" }},
		{"sub", func(c *Claims) { c.Subject = "" }},
		{"aud", func(c *Claims) { c.Audience = nil }},
		{"exp", func(c *Claims) { c.Expiry = time.Time{} }},
		{"iat", func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"jti", func(c *Claims) { c.ID = "" }},
		{"sid", func(c *Claims) { c.SessionID = "" }},
		{"sid", func(c *Claims) { c.SessionID, c.ClientID = "", "another-client" }},
	} {
		c := full
		tc.edit(&c)
		err := c.CheckRequired(true)
		if !errors.Is(err, ErrMissingClaim) || !strings.HasSuffix(err.Error(), ": "+tc.missing) {
			t.Errorf("without %s: %v", tc.missing, err)
		}
	}
	if err := full.CheckRequired(true); err != nil {
		t.Errorf("full claims: %v", err)
	}
	noSID := full
	noSID.SessionID = ""
	if err := noSID.CheckRequired(false); err != nil {
		t.Errorf("sid not required: %v", err)
	}
	client := noSID
	client.ClientID = client.Subject // a client's own token: no session
	if err := client.CheckRequired(true); err != nil || !client.IsClientToken() {
		t.Errorf("client_credentials token: %v", err)
	}
}

func TestHasScopeAndRole(t *testing.T) {
	c := &Claims{Scope: " openid  notes:read\tnotes:write ", Roles: []string{"admin"}}
	for s, want := range map[string]bool{"openid": true, "notes:read": true, "notes:write": true, "notes": false, "": false, "admin": false} {
		if got := c.HasScope(s); got != want {
			t.Errorf("HasScope(%q) = %v, want %v", s, got, want)
		}
	}
	if !c.HasRole("admin") || c.HasRole("user") {
		t.Error("HasRole")
	}
	d := c.Clone()
	d.Roles[0] = "x"
	if c.Roles[0] != "admin" {
		t.Error("Clone shares Roles")
	}
}

func TestCloneKeepsNilAndEmpty(t *testing.T) {
	c := &Claims{Audience: []string{"a", "b"}, Roles: []string{}, AMR: nil}
	d := c.Clone()
	if d.Roles == nil || len(d.Roles) != 0 || d.AMR != nil || len(d.Audience) != 2 {
		t.Fatalf("Clone = %+v", d)
	}
	d.Audience = append(d.Audience, "c")
	d.Audience[0] = "x"
	if c.Audience[0] != "a" || len(c.Audience) != 2 {
		t.Fatal("Clone shares Audience")
	}
	if e := (&Claims{}).Clone(); e.Audience != nil || e.Roles != nil {
		t.Fatalf("zero Clone = %+v", e)
	}
}
