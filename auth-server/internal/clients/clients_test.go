package clients

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := Client{Name: "shop", Confidential: true, RedirectURIs: []string{"https://shop.example/cb", "com.example.app:/oauth"},
		Grants: []string{GrantAuthorizationCode, GrantClientCredentials}, Scopes: []string{"openid", "notes:read"},
		DefaultScopes: []string{"openid"}, Roles: []string{"reporter", "svc.sync:rw"}}
	for _, tc := range []struct {
		name string
		edit func(*Client)
		want error
	}{
		{"valid", func(*Client) {}, nil},
		{"builtin is valid", func(c *Client) { *c = Builtin() }, nil},
		{"empty name", func(c *Client) { c.Name = "" }, ErrInvalidName},
		{"padded name", func(c *Client) { c.Name = " shop" }, ErrInvalidName},
		{"relative redirect", func(c *Client) { c.RedirectURIs = []string{"/cb"} }, ErrInvalidRedirectURI},
		{"redirect with fragment", func(c *Client) { c.RedirectURIs = []string{"https://a.example/cb#x"} }, ErrInvalidRedirectURI},
		{"https without host", func(c *Client) { c.RedirectURIs = []string{"https:///cb"} }, ErrInvalidRedirectURI},
		{"bad post-logout uri", func(c *Client) { c.PostLogoutURIs = []string{"nope"} }, ErrInvalidRedirectURI},
		{"unknown grant", func(c *Client) { c.Grants = []string{"implicit"} }, ErrInvalidGrant},
		{"client credentials for a public client", func(c *Client) { c.Confidential = false }, ErrInvalidGrant},
		{"unknown scope", func(c *Client) { c.Scopes = []string{"root"} }, ErrInvalidScope},
		{"default outside scopes", func(c *Client) { c.DefaultScopes = []string{"admin"} }, ErrInvalidScope},
		{"bad role", func(c *Client) { c.Roles = []string{"Admin"} }, ErrInvalidRole},
		{"ES256 ID tokens", func(c *Client) { c.IDTokenAlg = "ES256" }, nil},
		{"EdDSA ID tokens", func(c *Client) { c.IDTokenAlg = "EdDSA" }, nil},
		{"RS256 ID tokens", func(c *Client) { c.IDTokenAlg = "RS256" }, nil},
		{"HS256 ID tokens", func(c *Client) { c.IDTokenAlg = "HS256" }, ErrInvalidIDTokenAlg},
		{"none ID tokens", func(c *Client) { c.IDTokenAlg = "none" }, ErrInvalidIDTokenAlg},
		{"lower-case algorithm", func(c *Client) { c.IDTokenAlg = "es256" }, ErrInvalidIDTokenAlg},
		{"role too long", func(c *Client) { c.Roles = []string{"a" + strings.Repeat("b", 64)} }, ErrInvalidRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if got := c.Validate(); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Errorf("Validate() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	c := Builtin()
	for _, tc := range []struct {
		name, requested string
		want            []string
		err             error
	}{
		{"none asked: the defaults", "", []string{"openid", "profile", "email", "notes:read", "notes:write"}, nil},
		{"a subset", "notes:read  openid notes:read", []string{"notes:read", "openid"}, nil},
		{"admin is allowed for first-party", "admin", []string{"admin"}, nil},
		{"unknown", "notes:read root", nil, ErrInvalidScope},
		{"malformed", "notes:read \"x\"", nil, ErrInvalidScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseScope(tc.requested)
			var got []string
			if err == nil {
				got, err = c.Grant(req)
			}
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
	if got, err := Narrow([]string{"a", "b"}, nil); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Narrow keeps: %v %v", got, err)
	}
	if got, err := Narrow([]string{"a", "b"}, []string{"b"}); err != nil || !slices.Equal(got, []string{"b"}) {
		t.Errorf("Narrow narrows: %v %v", got, err)
	}
	if _, err := Narrow([]string{"a"}, []string{"b"}); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("Narrow widens: %v", err)
	}
}

func TestSecrets(t *testing.T) {
	s1, h1, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, _, _ := NewSecret()
	if len(s1) < 43 || s1 == s2 || strings.Contains(h1, s1) {
		t.Fatalf("secrets %q %q hash %q", s1, s2, h1)
	}
	if !SecretMatches(s1, h1) || SecretMatches(s2, h1) || SecretMatches("", "") || SecretMatches(s1, "") {
		t.Error("SecretMatches disagrees")
	}
}

func TestIDTokenAlg(t *testing.T) {
	err := Client{Name: "x", IDTokenAlg: "PS256"}.Validate()
	if !errors.Is(err, ErrInvalidIDTokenAlg) || !strings.Contains(err.Error(), "RS256, ES256, EdDSA") {
		t.Errorf("Validate with PS256 = %v; want ErrInvalidIDTokenAlg listing RS256, ES256, EdDSA", err)
	}
	if got := (Client{}).IDTokenAlgOrDefault(); got != "RS256" {
		t.Errorf("default ID-token algorithm = %q, want RS256", got)
	}
	if got := (Client{IDTokenAlg: "EdDSA"}).IDTokenAlgOrDefault(); got != "EdDSA" {
		t.Errorf("registered ID-token algorithm = %q, want EdDSA", got)
	}
	if got := IDTokenAlgs(); !slices.Equal(got, []string{"RS256", "ES256", "EdDSA"}) {
		t.Errorf("IDTokenAlgs = %v", got)
	}
}
