package verifier

import (
	"context"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// BenchmarkVerifyFresh verifies a token never seen before on every op: the full
// path (decode, checks, ES256 signature, cache insert with evictions past 10000).
func BenchmarkVerifyFresh(b *testing.B) {
	f := newFixture(b)
	v := startVerifier(b, f.config())
	tokens := mintN(b, f, f.es, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := v.Verify(ctx, tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached verifies the same token: a cache hit.
func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b)
	v := startVerifier(b, f.config())
	tok := f.mint(b, f.es, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from all CPUs.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	f := newFixture(b)
	v := startVerifier(b, f.config())
	tok := f.mint(b, f.es, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRawGoJose is the baseline: go-jose parse, ES256 verify and claims
// decode, with no checks and no cache.
func BenchmarkRawGoJose(b *testing.B) {
	f := newFixture(b)
	tok := f.mint(b, f.es, nil)
	pub := f.es.priv.Public()
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			b.Fatal(err)
		}
		payload, err := jws.Verify(pub)
		if err != nil {
			b.Fatal(err)
		}
		var c jwt.Claims
		if err := json.Unmarshal(payload, &c); err != nil {
			b.Fatal(err)
		}
	}
}
