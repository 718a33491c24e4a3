package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The signing algorithms keys supports.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5, 2048-bit, with SHA-256
	AlgEdDSA = "EdDSA" // Ed25519
)

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

func supportedAlg(alg string) bool {
	return alg == AlgES256 || alg == AlgRS256 || alg == AlgEdDSA
}

// Supported reports whether alg is one of the algorithms keys can generate and sign with.
func Supported(alg string) bool { return supportedAlg(alg) }

// Generate makes a new key for alg (ES256 on P-256, RS256 with 2048 bits,
// EdDSA on Ed25519; anything else wraps [ErrUnsupportedAlg]). The key is in
// state next with CreatedAt = now, its kid is the RFC 7638 thumbprint of its
// public JWK, and its private part (PKCS#8 DER) is sealed by s.
func Generate(alg string, now time.Time, s *Sealer) (Key, error) {
	if s == nil {
		return Key{}, errors.New("keys: generate: nil sealer")
	}
	priv, err := newPrivateKey(alg)
	if err != nil {
		return Key{}, err
	}
	jwk, kid, err := publicJWK(priv.Public(), alg)
	if err != nil {
		return Key{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("keys: generate: %w", err)
	}
	sealed, err := s.Seal(kid, der)
	if err != nil {
		return Key{}, fmt.Errorf("keys: generate: %w", err)
	}
	return Key{KID: kid, Alg: alg, State: StateNext, PublicJWK: jwk, Sealed: sealed, CreatedAt: now}, nil
}

func newPrivateKey(alg string) (crypto.Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s: %w", alg, err)
	}
	return priv, nil
}

// publicJWK returns the JSON of the public JWK (kid, alg, use "sig") and its
// kid, the base64url SHA-256 thumbprint (RFC 7638).
func publicJWK(pub crypto.PublicKey, alg string) ([]byte, string, error) {
	jwk := jose.JSONWebKey{Key: pub, Algorithm: alg, Use: "sig"}
	kid, err := thumbprint(&jwk)
	if err != nil {
		return nil, "", err
	}
	jwk.KeyID = kid
	b, err := json.Marshal(jwk)
	if err != nil {
		return nil, "", fmt.Errorf("keys: marshal public JWK: %w", err)
	}
	return b, kid, nil
}

func thumbprint(jwk *jose.JSONWebKey) (string, error) {
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// SigningKey unseals k and returns a go-jose signing key for it. Its Key is a
// jose.JSONWebKey carrying the kid, alg and use "sig", so go-jose puts the kid
// in the JWS header. It fails if the key cannot be unsealed (wrapping
// [ErrUnseal]), if its alg is unsupported, or if the private key does not
// match the alg or the kid.
func (s *Sealer) SigningKey(k Key) (jose.SigningKey, error) {
	if !supportedAlg(k.Alg) {
		return jose.SigningKey{}, fmt.Errorf("%w: %q", ErrUnsupportedAlg, k.Alg)
	}
	der, err := s.Open(k.KID, k.Sealed)
	if err != nil {
		return jose.SigningKey{}, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return jose.SigningKey{}, fmt.Errorf("keys: key %q: parse private key: %w", k.KID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !matchesAlg(priv, k.Alg) {
		return jose.SigningKey{}, fmt.Errorf("keys: key %q: private key of type %T does not fit %s", k.KID, parsed, k.Alg)
	}
	pub := jose.JSONWebKey{Key: priv.Public()}
	if kid, err := thumbprint(&pub); err != nil || kid != k.KID {
		return jose.SigningKey{}, fmt.Errorf("keys: key %q: private key does not match the kid", k.KID)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: k.KID, Algorithm: k.Alg, Use: "sig"}
	return jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: jwk}, nil
}

func matchesAlg(priv crypto.Signer, alg string) bool {
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		return alg == AlgES256 && p.Curve == elliptic.P256()
	case *rsa.PrivateKey:
		return alg == AlgRS256 && p.N.BitLen() >= rsaBits
	case ed25519.PrivateKey:
		return alg == AlgEdDSA
	}
	return false
}

// JWKS renders the JSON Web Key Set {"keys":[...]} of the public JWKs of ks,
// in the order given (pass [Published] keys); no keys give {"keys":[]}. It
// fails if a stored JWK does not parse, is not public, or lacks its kid, so a
// private key can never be published by mistake.
func JWKS(ks []Key) ([]byte, error) {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(ks))}
	for _, k := range ks {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return nil, fmt.Errorf("keys: jwks: key %q: %w", k.KID, err)
		}
		if !jwk.IsPublic() || !jwk.Valid() || jwk.KeyID != k.KID {
			return nil, fmt.Errorf("keys: jwks: key %q: stored JWK is not a valid public key with that kid", k.KID)
		}
		set.Keys = append(set.Keys, json.RawMessage(k.PublicJWK))
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: jwks: %w", err)
	}
	return b, nil
}
