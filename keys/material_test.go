package keys

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var allAlgs = []string{AlgES256, AlgRS256, AlgEdDSA}

// generateAll returns one freshly generated key of each alg, created at(3).
func generateAll(t *testing.T, s *Sealer) map[string]Key {
	t.Helper()
	out := map[string]Key{}
	for _, alg := range allAlgs {
		k, err := Generate(alg, at(3), s)
		if err != nil {
			t.Fatalf("Generate(%s): %v", alg, err)
		}
		out[alg] = k
	}
	return out
}

func TestGenerate(t *testing.T) {
	s := newTestSealer(t)
	for alg, k := range generateAll(t, s) {
		t.Run(alg, func(t *testing.T) {
			if k.Alg != alg || k.State != StateNext || !k.CreatedAt.Equal(at(3)) {
				t.Errorf("key = %s %s created %v, want %s next created %v", k.Alg, k.State, k.CreatedAt, alg, at(3))
			}
			var jwk jose.JSONWebKey
			if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
				t.Fatal(err)
			}
			if !jwk.IsPublic() || jwk.KeyID != k.KID || jwk.Algorithm != alg || jwk.Use != "sig" {
				t.Errorf("public JWK = public %v kid %q alg %q use %q", jwk.IsPublic(), jwk.KeyID, jwk.Algorithm, jwk.Use)
			}
			sum, err := jwk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(sum); k.KID != want {
				t.Errorf("kid = %q, want thumbprint %q", k.KID, want)
			}
			der, err := s.Open(k.KID, k.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(k.Sealed, der) || bytes.Contains(k.PublicJWK, der) {
				t.Error("the PKCS#8 DER appears in the stored key")
			}
		})
	}
	for _, alg := range []string{"HS256", "none", "ES384", ""} {
		if _, err := Generate(alg, at(0), s); !errors.Is(err, ErrUnsupportedAlg) {
			t.Errorf("Generate(%q) error = %v, want ErrUnsupportedAlg", alg, err)
		}
	}
	if _, err := Generate(AlgES256, at(0), nil); err == nil {
		t.Error("Generate with a nil sealer succeeded")
	}
}

func TestSigningKeySignsVerifiably(t *testing.T) {
	s := newTestSealer(t)
	for alg, k := range generateAll(t, s) {
		t.Run(alg, func(t *testing.T) {
			sk, err := s.SigningKey(k)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := jose.NewSigner(sk, nil)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := signer.Sign([]byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			compact, err := obj.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if got := parsed.Signatures[0].Header.KeyID; got != k.KID {
				t.Errorf("header kid = %q, want %q", got, k.KID)
			}
			var pub jose.JSONWebKey
			if err := json.Unmarshal(k.PublicJWK, &pub); err != nil {
				t.Fatal(err)
			}
			payload, err := parsed.Verify(&pub)
			if err != nil {
				t.Fatalf("verify with PublicJWK: %v", err)
			}
			if string(payload) != "payload" {
				t.Errorf("payload = %q", payload)
			}
		})
	}
}

func TestSigningKeyFails(t *testing.T) {
	s := newTestSealer(t)
	es, err := Generate(AlgES256, at(0), s)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := Generate(AlgEdDSA, at(0), s)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := s.Open(ed.KID, ed.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	resealed, err := s.Seal(es.KID, edDER) // the Ed25519 key under the ES256 kid
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sealer  *Sealer
		k       Key
		wantErr error // nil: any error
	}{
		{"wrong kek", newTestSealer(t), es, ErrUnseal},
		{"sealed of another key", s, with(es, func(k *Key) { k.Sealed = ed.Sealed }), ErrUnseal},
		{"unsupported alg", s, with(es, func(k *Key) { k.Alg = "HS256" }), ErrUnsupportedAlg},
		{"alg does not fit the key", s, with(es, func(k *Key) { k.Alg = AlgRS256 }), nil},
		{"private key of another kid", s, with(es, func(k *Key) { k.Sealed, k.Alg = resealed, AlgEdDSA }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.sealer.SigningKey(tt.k)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("SigningKey error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	s := newTestSealer(t)
	empty, err := JWKS(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(empty) != `{"keys":[]}` {
		t.Errorf("JWKS(nil) = %s", empty)
	}
	gen := generateAll(t, s)
	ks := []Key{gen[AlgEdDSA], gen[AlgES256], gen[AlgRS256]}
	b, err := JWKS(ks)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != len(ks) {
		t.Fatalf("JWKS has %d keys, want %d", len(set.Keys), len(ks))
	}
	for i, k := range set.Keys {
		if k.KeyID != ks[i].KID || !k.IsPublic() {
			t.Errorf("key %d: kid %q public %v, want kid %q public", i, k.KeyID, k.IsPublic(), ks[i].KID)
		}
	}

	priv := with(gen[AlgES256], func(k *Key) { k.PublicJWK = privateJWK(t, s, gen[AlgES256]) })
	broken := []Key{
		priv,
		with(gen[AlgES256], func(k *Key) { k.PublicJWK = []byte(`{"kty":"EC"`) }),
		with(gen[AlgES256], func(k *Key) { k.KID = "other" }),
	}
	for i, k := range broken {
		if _, err := JWKS([]Key{gen[AlgRS256], k}); err == nil {
			t.Errorf("broken key %d: JWKS succeeded", i)
		}
	}
}

// privateJWK returns the JSON of k's private JWK, which must never be
// published.
func privateJWK(t *testing.T, s *Sealer, k Key) []byte {
	t.Helper()
	sk, err := s.SigningKey(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(sk.Key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
