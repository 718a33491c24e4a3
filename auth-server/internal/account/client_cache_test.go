package account

import (
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/clients"
	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

func TestClientCache(t *testing.T) {
	c := newClientCache()
	t0 := time.Unix(1000, 0)
	sc := store.StoredClient{Client: clients.Client{ID: "a"}, SecretHash: "h1"}
	c.put(sc, t0)
	if got, ok := c.get("a", t0.Add(clientCacheTTL-time.Millisecond)); !ok || got.SecretHash != "h1" {
		t.Errorf("within the TTL: %v %v", got, ok)
	}
	if _, ok := c.get("a", t0.Add(clientCacheTTL)); ok {
		t.Error("at the TTL the entry must be read again")
	}
	if _, ok := c.get("a", t0.Add(-time.Second)); ok {
		t.Error("a clock that went back must not extend an entry")
	}
	c.forget("a")
	if _, ok := c.get("a", t0); ok {
		t.Error("forgotten entry still served")
	}
	c.put(sc, t0)
	c.put(store.StoredClient{Client: clients.Client{ID: "b"}}, t0.Add(2*clientCacheTTL))
	if len(c.entries) != 1 {
		t.Errorf("stale entries kept: %d", len(c.entries))
	}
}
