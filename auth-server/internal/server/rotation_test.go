package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/keyring"
	"github.com/jwtauth/jwtauth/auth-server/internal/password"
	"github.com/jwtauth/jwtauth/auth-server/internal/tokens"
	"github.com/jwtauth/jwtauth/db"
	"github.com/jwtauth/jwtauth/internal/testdb"
	"github.com/jwtauth/jwtauth/keys"
	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// Rotating again and again while a verifier that caches the JWKS for its max-age verifies a
// continuous stream of fresh tokens: not one failure, because every key is published at least
// KEY_PUBLISH_AHEAD (>= JWKS_MAX_AGE) before it signs and stays published while its tokens live.
// Then an emergency revoke makes the revoked key's tokens fail after the verifier's next refresh.
func TestRotationUnderLoadHasNoFailedVerification(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds of wall time")
	}
	d := testdb.Open(t, testdb.SQLiteURL(t), db.AuthSchema)
	policy := keys.Policy{PublishAhead: 2 * time.Second, JWKSMaxAge: time.Second, AccessTTL: 3 * time.Second}
	fast := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	e := newEnvFull(t, d, fast, policy, &clock{real: true}, func(c *envConfig) { c.server.JWKSMaxAge = policy.JWKSMaxAge })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The unknown-kid refresh may fire at most once per second, like a background refresh:
	// it cannot paper over a key that signed before it was published.
	v, err := verifier.New(ctx, verifier.Config{Issuer: "http://auth.test", Audience: []string{"resource-server"},
		JWKSURL: e.srv.URL + "/.well-known/jwks.json", MinRefreshInterval: time.Second, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	sub := tokens.Subject{UserID: "00000000-0000-4000-8000-000000000009", Username: "stream", Email: "s@example.com"}

	var verified, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, _, err := e.issuer.Access(sub, "sid-1")
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := v.Verify(ctx, tok); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					verified.Add(1)
				}
			}
		}()
	}
	rotations := 0
	deadline := time.Now().Add(9 * time.Second)
	for time.Now().Before(deadline) {
		_, err := e.ring.Rotate(ctx, false)
		var early *keys.TooEarlyError
		switch {
		case errors.As(err, &early):
			time.Sleep(early.Wait)
		case err != nil:
			t.Fatal(err)
		default:
			rotations++
		}
	}
	close(stop)
	wg.Wait()
	if rotations < 3 || verified.Load() == 0 {
		t.Fatalf("rotations = %d, verified = %d: the test did not exercise rotation", rotations, verified.Load())
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d verifications failed across %d rotations; first: %v", n, n+verified.Load(), rotations, firstErr.Load())
	}
	t.Logf("%d tokens verified across %d rotations", verified.Load(), rotations)

	// Emergency: revoke the signing key. Its tokens fail once the verifier has refreshed.
	tok, _, err := e.issuer.Access(sub, "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ring.Revoke(ctx, e.ring.CurrentKID()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "revoked key's token to fail", func() bool { _, err := v.Verify(ctx, tok); return err != nil })
	fresh, _, err := e.issuer.Access(sub, "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the promoted key's token to verify", func() bool { _, err := v.Verify(ctx, fresh); return err == nil })
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// No private key material is stored in the clear: the public JWK has no private member, and
// the sealed column holds neither the key's PKCS#8 nor anything that opens without the KEK.
func TestNoPrivateKeyMaterialInTheClear(t *testing.T) {
	testdb.Each(t, db.AuthSchema, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := e.ring.Revoke(context.Background(), e.ring.CurrentKID()); err != nil { // a few more keys
			t.Fatal(err)
		}
		var rows []struct {
			KID    string `db:"kid"`
			Public string `db:"public_jwk"`
			Sealed string `db:"private_sealed"`
		}
		if err := d.Select(&rows, `SELECT kid, public_jwk, private_sealed FROM signing_keys`); err != nil {
			t.Fatal(err)
		}
		sealer, _ := keys.NewSealer(testKEK)
		other, _ := keys.NewSealer(bytes.Repeat([]byte{8}, 32))
		ks := e.ring.Keys()
		if len(rows) < 3 || len(ks) != len(rows) {
			t.Fatalf("rows = %d, keys = %d", len(rows), len(ks))
		}
		for i, r := range rows {
			if strings.Contains(r.Public, `"d"`) || strings.Contains(r.Public, `"p"`) {
				t.Errorf("%s: private member in public_jwk", r.KID)
			}
			raw, err := base64.StdEncoding.DecodeString(r.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			var k keys.Key
			for _, x := range ks {
				if x.KID == r.KID {
					k = x
				}
			}
			der, err := sealer.Open(k.KID, k.Sealed)
			if err != nil {
				t.Fatalf("%s: cannot open with the right KEK: %v", r.KID, err)
			}
			if bytes.Contains(raw, der[len(der)-32:]) || strings.Contains(r.Sealed, base64.StdEncoding.EncodeToString(der[len(der)-24:])) {
				t.Errorf("%s: private key bytes visible in the sealed column", r.KID)
			}
			if _, err := other.Open(k.KID, k.Sealed); err == nil {
				t.Errorf("%s: opens with the wrong KEK", r.KID)
			}
			if i > 0 {
				if _, err := sealer.Open(rows[0].KID, k.Sealed); err == nil {
					t.Errorf("%s: opens under another kid", r.KID)
				}
			}
		}
		_ = keyring.ErrNoSigningKey
	})
}
