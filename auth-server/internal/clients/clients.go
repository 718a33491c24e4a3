// Package clients holds the rules of registered OAuth clients (RFC 6749 §2), scopes and roles:
// what a client may be, which scopes a request gets, and how client secrets are made, stored
// and checked. It is pure: no HTTP, no SQL.
package clients

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jwtauth/jwtauth/keys"
)

// FirstParty is the built-in public client used when a request names none, so the Python
// system's clients keep working.
const FirstParty = "first-party"

// The grants a client may hold.
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
)

// grants lists every grant, in the order they are shown.
var grants = []string{GrantPassword, GrantRefreshToken, GrantAuthorizationCode, GrantClientCredentials}

// knownScopes are OpenID Connect's, the resource server's notes, and the admin API.
var knownScopes = []string{"openid", "profile", "email", "notes:read", "notes:write", "admin"}

// AdminRole is the built-in role of the admin API.
const AdminRole = "admin"

// Errors of client registration and scope requests.
var (
	ErrInvalidName        = errors.New("invalid client name")
	ErrInvalidRedirectURI = errors.New("invalid redirect uri")
	ErrInvalidGrant       = errors.New("invalid grant type")
	ErrInvalidScope       = errors.New("invalid scope")
	ErrInvalidRole        = errors.New("invalid role")
	ErrInvalidIDTokenAlg  = errors.New("invalid id token algorithm")
)

// DefaultIDTokenAlg is the algorithm of a client's ID tokens when it registered none: OpenID
// Connect Discovery requires every provider to support RS256.
const DefaultIDTokenAlg = "RS256"

// idTokenAlgs are the algorithms a client may register for its ID tokens: the asymmetric ones
// the key ring can keep a lifecycle of. HS256 is not among them: OpenID Connect would key it
// with the client's secret, which this server keeps only as a hash.
var idTokenAlgs = []string{keys.AlgRS256, keys.AlgES256, keys.AlgEdDSA}

// IDTokenAlgs returns the algorithms a client may register for its ID tokens, RS256 first.
func IDTokenAlgs() []string { return slices.Clone(idTokenAlgs) }

// Client is a registered client.
type Client struct {
	ID             string
	Name           string
	Confidential   bool
	RedirectURIs   []string
	PostLogoutURIs []string
	Grants         []string
	Scopes         []string // the scopes it may be granted
	DefaultScopes  []string // granted when a request asks for none
	Roles          []string // its own roles, for client_credentials
	// IDTokenAlg is the algorithm its ID tokens are signed with (--id-token-alg); "" means
	// DefaultIDTokenAlg.
	IDTokenAlg string
}

// IDTokenAlgOrDefault returns the algorithm c's ID tokens are signed with.
func (c Client) IDTokenAlgOrDefault() string {
	if c.IDTokenAlg == "" {
		return DefaultIDTokenAlg
	}
	return c.IDTokenAlg
}

// Builtin returns the first-party client: public, password and refresh_token, every scope,
// and the default scopes the contract names.
func Builtin() Client {
	return Client{ID: FirstParty, Name: FirstParty, Grants: []string{GrantPassword, GrantRefreshToken},
		Scopes: slices.Clone(knownScopes), DefaultScopes: []string{"openid", "profile", "email", "notes:read", "notes:write"}}
}

// HasGrant reports whether c may use grant g.
func (c Client) HasGrant(g string) bool { return slices.Contains(c.Grants, g) }

// Validate checks a client for registration: a name, absolute redirect URIs without
// fragments, known grants (client_credentials only for a confidential client), known
// scopes, defaults among its scopes, valid roles, an ID-token algorithm of IDTokenAlgs (or
// none).
func (c Client) Validate() error {
	if err := CheckIDTokenAlg(c.IDTokenAlg); err != nil {
		return err
	}
	if n := strings.TrimSpace(c.Name); n == "" || len(n) > 100 || n != c.Name {
		return fmt.Errorf("%w: 1 to 100 characters without leading or trailing space", ErrInvalidName)
	}
	for _, u := range slices.Concat(c.RedirectURIs, c.PostLogoutURIs) {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	for _, g := range c.Grants {
		if !slices.Contains(grants, g) {
			return fmt.Errorf("%w: %q (want one of %s)", ErrInvalidGrant, g, strings.Join(grants, ", "))
		}
		if g == GrantClientCredentials && !c.Confidential {
			return fmt.Errorf("%w: client_credentials needs a confidential client", ErrInvalidGrant)
		}
	}
	if err := CheckScopes(c.Scopes); err != nil {
		return err
	}
	for _, s := range c.DefaultScopes {
		if !slices.Contains(c.Scopes, s) {
			return fmt.Errorf("%w: default scope %q is not among the client's scopes", ErrInvalidScope, s)
		}
	}
	return CheckRoles(c.Roles)
}

func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	bad := err != nil || !u.IsAbs() || u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(raw, " \t\r\n#")
	if !bad && (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		bad = true
	}
	if bad {
		return fmt.Errorf("%w: %q must be an absolute URI without a fragment", ErrInvalidRedirectURI, raw)
	}
	return nil
}

// CheckIDTokenAlg reports an ID-token algorithm that is neither empty (the default) nor one of
// IDTokenAlgs; the error lists the valid ones. Names are case-sensitive, as in JOSE.
func CheckIDTokenAlg(alg string) error {
	if alg != "" && !slices.Contains(idTokenAlgs, alg) {
		return fmt.Errorf("%w: %q (want one of %s)", ErrInvalidIDTokenAlg, alg, strings.Join(idTokenAlgs, ", "))
	}
	return nil
}

// CheckScopes reports the first scope that is not a known one.
func CheckScopes(scopes []string) error {
	for _, s := range scopes {
		if !slices.Contains(knownScopes, s) {
			return fmt.Errorf("%w: %q (known scopes: %s)", ErrInvalidScope, s, strings.Join(knownScopes, " "))
		}
	}
	return nil
}

var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// CheckRoles reports the first role that does not match [a-z][a-z0-9_.:-]{0,63}.
func CheckRoles(roles []string) error {
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return fmt.Errorf("%w: %q (a lower-case letter, then up to 63 of a-z 0-9 _ . : -)", ErrInvalidRole, r)
		}
	}
	return nil
}

// ParseScope splits a space-separated scope parameter (RFC 6749 §3.3) into its distinct scopes,
// in order; a malformed one (a character outside %x21 / %x23-5B / %x5D-7E) is ErrInvalidScope.
func ParseScope(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			continue
		}
		for _, r := range f {
			if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
				return nil, fmt.Errorf("%w: malformed scope %q", ErrInvalidScope, f)
			}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Grant returns the scopes a request of c gets: its default scopes when requested is empty,
// else requested itself, every one of which must be among c's scopes (ErrInvalidScope).
func (c Client) Grant(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(c.DefaultScopes), nil
	}
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return nil, fmt.Errorf("%w: %q is not allowed for this client", ErrInvalidScope, s)
		}
	}
	return slices.Clone(requested), nil
}

// Narrow returns the scopes of a refresh (RFC 6749 §6): the session's when requested is empty,
// else requested, which must be a subset of the session's (ErrInvalidScope).
func Narrow(session, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(session), nil
	}
	for _, s := range requested {
		if !slices.Contains(session, s) {
			return nil, fmt.Errorf("%w: %q was not granted to this session", ErrInvalidScope, s)
		}
	}
	return slices.Clone(requested), nil
}

// NewSecret returns a new client secret (256 random bits, base64url) and its stored hash.
func NewSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("client secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret), nil
}

// HashSecret is the stored form of a secret: SHA-256, hex. A slow hash buys nothing for 256
// random bits.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches reports, in constant time, whether secret hashes to hash.
func SecretMatches(secret, hash string) bool {
	got := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1 && hash != ""
}
