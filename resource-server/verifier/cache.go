package verifier

import (
	"strings"
	"sync"
	"time"
)

// cacheEntry records that a token's signature was verified with key. Whether it
// may be served is decided on every hit (Verifier.usable): its key must still be
// published and it must not be past expires; the claims are re-checked against
// the verifier's expectations too, so verifiers made by WithExpectations can
// share one cache.
type cacheEntry struct {
	claims  *Claims // never handed out; Verify returns copies
	key     *Key
	expires time.Time // exp plus leeway
}

// tokenCache maps exact token strings to cache entries. It holds at most max
// entries: a put into a full cache first drops expired and unusable entries, then,
// if still full, an arbitrary eighth of the entries (Go's map iteration order),
// so insertion is amortised O(1).
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]cacheEntry
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{max: size, entries: make(map[string]cacheEntry, min(size, 1024))}
}

func (c *tokenCache) get(token string) (cacheEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[token]
	return e, ok
}

func (c *tokenCache) remove(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, token)
}

// put stores e under a copy of token (so the cache does not pin the request's
// header memory). usable decides which entries a full cache may drop first.
func (c *tokenCache) put(token string, e cacheEntry, now time.Time, usable func(cacheEntry, time.Time) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.max {
		c.evict(now, usable)
	}
	c.entries[strings.Clone(token)] = e
}

func (c *tokenCache) evict(now time.Time, usable func(cacheEntry, time.Time) bool) {
	for t, e := range c.entries {
		if !usable(e, now) {
			delete(c.entries, t)
		}
	}
	target := c.max - max(c.max/8, 1)
	for t := range c.entries {
		if len(c.entries) <= target {
			break
		}
		delete(c.entries, t)
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
