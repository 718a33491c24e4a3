package bearer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/jwtauth/jwtauth/resource-server/verifier"
)

// fakeRing is a JWKSSource whose document the test replaces.
type fakeRing struct {
	mu   sync.Mutex
	body []byte
	etag string
}

func (f *fakeRing) JWKS() ([]byte, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.body, f.etag
}

func (f *fakeRing) publish(t *testing.T, etag string, keys ...jose.JSONWebKey) {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.body, f.etag = b, etag
	f.mu.Unlock()
}

func pubKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

// The local set follows the ring's document: a key that stays keeps its identity (its
// cached tokens stay cached), a removed key is no longer held, a new one is found at once.
func TestLocalKeySetFollowsRing(t *testing.T) {
	ring := &fakeRing{}
	a, b := pubKey(t, "a"), pubKey(t, "b")
	ring.publish(t, `"1"`, a)
	ks := NewLocalKeySet(ring, nil)
	ctx, now := t.Context(), time.Now()
	ka, err := ks.Key(ctx, "ES256", "a", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Key(ctx, "ES256", "b", now); !errors.Is(err, verifier.ErrUnknownKey) {
		t.Fatalf("unpublished kid: %v, want ErrUnknownKey", err)
	}
	ring.publish(t, `"2"`, a, b)
	if ka2, err := ks.Key(ctx, "ES256", "a", now); err != nil || ka2 != ka || !ks.Holds(ka, now) {
		t.Fatalf("kept key: same %v, err %v", ka2 == ka, err)
	}
	kb, err := ks.Key(ctx, "ES256", "b", now)
	if err != nil {
		t.Fatalf("new key: %v", err)
	}
	ring.publish(t, `"3"`, b)
	if ks.Holds(ka, now) || !ks.Holds(kb, now) {
		t.Fatal("a revoked key is still held, or the kept one is not")
	}
	ring.mu.Lock()
	ring.body, ring.etag = []byte(`not json`), `"4"`
	ring.mu.Unlock()
	if _, err := ks.Key(ctx, "ES256", "b", now); !errors.Is(err, verifier.ErrKeysUnavailable) {
		t.Fatalf("unreadable document: %v, want ErrKeysUnavailable", err)
	}
}

func TestNewNeedsKeys(t *testing.T) {
	_, err := New(t.Context(), Config{Issuer: "http://a", Audience: []string{"rs"}, Algorithm: "ES256"})
	if err == nil {
		t.Fatal("New without Keys succeeded")
	}
	if _, err := New(t.Context(), Config{Issuer: "http://a", Audience: []string{"rs"}, Algorithm: "HS256", HS256Secret: []byte("short")}); err == nil {
		t.Fatal("New with a short HS256 secret succeeded")
	}
}
