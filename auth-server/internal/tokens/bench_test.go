package tokens_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/keys"
)

// fixedKey is a KeySource with one key.
type fixedKey struct{ key jose.SigningKey }

func (k fixedKey) SigningKey() (jose.SigningKey, error) { return k.key, nil }

// newIssuer returns an Issuer signing with a fresh key of alg, made and unsealed the way the
// keyring does it.
func newIssuer(b testing.TB, alg string) *tokens.Issuer {
	b.Helper()
	var ks tokens.KeySource
	if alg == "HS256" {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		ks = tokens.NewHS256Key(secret)
	} else {
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		sealer, err := keys.NewSealer(kek)
		if err != nil {
			b.Fatal(err)
		}
		k, err := keys.Generate(alg, time.Now(), sealer)
		if err != nil {
			b.Fatal(err)
		}
		sk, err := sealer.SigningKey(k)
		if err != nil {
			b.Fatal(err)
		}
		ks = fixedKey{sk}
	}
	return tokens.NewIssuer("https://auth.example.com", []string{"resource-server"}, 15*time.Minute, ks, time.Now)
}

var subject = tokens.Subject{UserID: "0b9d5d0e-7d1f-4c4e-9a51-6f2b1f0c8a11", Username: "alice", Email: "alice@example.com"}

// BenchmarkAccess is the sign path of every login, signup and refresh: one access token.
func BenchmarkAccess(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			iss := newIssuer(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := iss.Access(subject, "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccessParallel is BenchmarkAccess with ES256, the default, from all CPUs.
func BenchmarkAccessParallel(b *testing.B) {
	iss := newIssuer(b, "ES256")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := iss.Access(subject, "5f0c2f7e-3a47-4c55-8a3e-2d1b7c9e4f60"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSync is the sign path of a user-sync call's token.
func BenchmarkSync(b *testing.B) {
	iss := newIssuer(b, "ES256")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Sync([]byte(`{"events":[]}`)); err != nil {
			b.Fatal(err)
		}
	}
}
