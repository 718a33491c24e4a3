package tokens_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/keys"
)

// algKeys is an IDKeySource with one key per algorithm.
type algKeys map[string]jose.SigningKey

func (k algKeys) SigningKeyFor(alg string) (jose.SigningKey, error) {
	if sk, ok := k[alg]; ok {
		return sk, nil
	}
	return jose.SigningKey{}, fmt.Errorf("no %s key", alg)
}

// BenchmarkIDToken is the sign path an ID token adds to a code exchange: RS256 by default
// (an RSA-2048 signature, the costly one), and ES256 for a client that registered it.
func BenchmarkIDToken(b *testing.B) {
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	sealer, err := keys.NewSealer(kek)
	if err != nil {
		b.Fatal(err)
	}
	ks := algKeys{}
	for _, alg := range []string{"RS256", "ES256"} {
		k, err := keys.Generate(alg, time.Now(), sealer)
		if err != nil {
			b.Fatal(err)
		}
		if ks[alg], err = sealer.SigningKey(k); err != nil {
			b.Fatal(err)
		}
	}
	iss := tokens.NewIssuer("https://auth.example.com", []string{"resource-server"}, 15*time.Minute, nil, time.Now).WithIDTokenKeys(ks)
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run(alg, func(b *testing.B) {
			c := tokens.IDTokenClaims{Subject: subject.UserID, ClientID: "web-app", AuthTime: time.Now(), Nonce: "n",
				SessionID: "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60", Profile: true, Username: "alice", Alg: alg}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.IDToken(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
