package account

import (
	"sync"
	"time"

	"github.com/jwtauth/jwtauth/auth-server/internal/store"
)

// clientCacheTTL is how long a registered client read from the database is used without
// reading it again: every token request of a client would otherwise read its row. A secret
// rotated or a client removed on another replica (or by the CLI) stops working there within
// this; on this replica at once.
const clientCacheTTL = time.Second

// clientCache holds registered clients for clientCacheTTL.
type clientCache struct {
	mu      sync.Mutex
	entries map[string]cachedClient
}

type cachedClient struct {
	c       store.StoredClient
	fetched time.Time
}

func newClientCache() *clientCache { return &clientCache{entries: map[string]cachedClient{}} }

// get returns the client cached under id when it was read less than clientCacheTTL before now.
func (c *clientCache) get(id string, now time.Time) (store.StoredClient, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.fetched) >= clientCacheTTL || now.Before(e.fetched) {
		return store.StoredClient{}, false
	}
	return e.c, true
}

// put caches sc as read at now; stale entries go, so the map holds only recently used clients.
func (c *clientCache) put(sc store.StoredClient, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		if now.Sub(e.fetched) >= clientCacheTTL {
			delete(c.entries, id)
		}
	}
	c.entries[sc.ID] = cachedClient{c: sc, fetched: now}
}

// forget drops id (after this replica changed it).
func (c *clientCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}
