package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/accesstoken"
	"github.com/jwtauth/jwtauth/keys"
)

// Minter signs access tokens of the auth server's shape (accesstoken.Payload) with the auth server's own current
// key, which it unseals from the auth database with the same KEY_ENCRYPTION_KEY: the only way
// to have many distinct, valid tokens without as many logins.
type Minter struct {
	signer    jose.Signer
	publicJWK []byte
	issuer    string
	audience  []string
}

// NewMinter reads the current signing key from the auth database at dbURL and unseals it with kek.
func NewMinter(ctx context.Context, dbURL string, kek []byte, issuer string, audience []string) (*Minter, error) {
	d, err := db.Open(ctx, dbURL, 1)
	if err != nil {
		return nil, fmt.Errorf("open auth database: %w", err)
	}
	defer d.Close()
	var row struct {
		KID    string `db:"kid"`
		Alg    string `db:"alg"`
		JWK    string `db:"public_jwk"`
		Sealed string `db:"private_sealed"`
	}
	if err := d.GetContext(ctx, &row, `SELECT kid, alg, public_jwk, private_sealed FROM signing_keys WHERE state = 'current'`); err != nil {
		return nil, fmt.Errorf("read current key: %w", err)
	}
	sealed, err := base64.StdEncoding.DecodeString(row.Sealed)
	if err != nil {
		return nil, fmt.Errorf("sealed key: %w", err)
	}
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		return nil, err
	}
	sk, err := sealer.SigningKey(keys.Key{KID: row.KID, Alg: row.Alg, State: keys.StateCurrent, Sealed: sealed, PublicJWK: []byte(row.JWK)})
	if err != nil {
		return nil, fmt.Errorf("unseal current key: %w", err)
	}
	signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType(accesstoken.Type))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &Minter{signer: signer, publicJWK: []byte(row.JWK), issuer: issuer, audience: audience}, nil
}

// PublicJWK is the JSON of the key's public JWK, as the JWKS publishes it.
func (m *Minter) PublicJWK() []byte { return m.publicJWK }

// Mint signs a token for a fresh user id, session and jti, valid for ttl.
func (m *Minter) Mint(username string, ttl time.Duration) (string, error) {
	return m.MintFor(uuid.NewString(), username, ttl)
}

// MintFor signs a token for user id sub (named username), with a fresh session and jti,
// valid for ttl.
func (m *Minter) MintFor(sub, username string, ttl time.Duration) (string, error) {
	c := accesstoken.Payload{
		Issuer: m.issuer, Subject: sub, Audience: jwt.Audience(m.audience), ID: uuid.NewString(),
		SessionID: uuid.NewString(), AMR: []string{accesstoken.AMRPassword},
		PreferredUsername: username, Email: username + "@bench.example",
		ClientID: "first-party", Scope: "openid profile email notes:read notes:write",
	}
	c.SetTimes(time.Now(), ttl)
	tok, err := jwt.Signed(m.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return tok, nil
}

// MintN mints n tokens of distinct users, each valid for ttl.
func (m *Minter) MintN(n int, ttl time.Duration) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		tok, err := m.Mint(fmt.Sprintf("bench%d", i), ttl)
		if err != nil {
			return nil, err
		}
		out[i] = tok
	}
	return out, nil
}

// parsePublicJWK parses a public JWK's JSON.
func parsePublicJWK(b []byte) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("parse public jwk: %w", err)
	}
	if !k.IsPublic() || !k.Valid() {
		return k, fmt.Errorf("parse public jwk: not a valid public key")
	}
	return k, nil
}
