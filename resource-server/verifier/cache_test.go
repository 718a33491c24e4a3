package verifier

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCacheHitSkipsSignature(t *testing.T) {
	f := newFixture(t)
	obs := &countingObserver{}
	cfg := f.config()
	cfg.Observer = obs
	v := startVerifier(t, cfg)
	tok := f.mint(t, f.es, nil)
	first, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	first.Subject = "mutated by the caller"
	second, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := [2]int64{obs.hits.Load(), obs.misses.Load()}, [2]int64{1, 1}; got != want {
		t.Fatalf("hits, misses = %v, want %v", got, want)
	}
	if second.Subject != testSubject {
		t.Fatalf("cached claims were changed through a returned copy: %q", second.Subject)
	}
}

func TestCacheEntryExpires(t *testing.T) {
	f := newFixture(t)
	v := startVerifier(t, f.config())
	tok := f.mint(t, f.es, setClaim("exp", f.clock.Now().Add(time.Minute).Unix()))
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute + 29*time.Second) // within leeway
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("past exp+leeway: %v, want ErrExpired", err)
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("expired entry still cached: %d entries", n)
	}
}

func TestCacheBounded(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.CacheSize = 16
	v := startVerifier(t, cfg)
	for i := range 100 {
		if _, err := v.Verify(t.Context(), f.mint(t, f.es, nil)); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if n := v.cache.len(); n > cfg.CacheSize {
			t.Fatalf("cache holds %d entries, limit %d", n, cfg.CacheSize)
		}
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newTokenCache(4)
	now := time.Unix(1000, 0)
	usable := func(e cacheEntry, now time.Time) bool { return now.Before(e.expires) }
	for i := range 4 {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(time.Second)
		}
		c.put(fmt.Sprint("tok", i), cacheEntry{expires: exp}, now, usable)
	}
	later := now.Add(time.Minute)
	c.put("new", cacheEntry{expires: later.Add(time.Hour)}, later, usable)
	for _, tok := range []string{"tok1", "tok3", "new"} {
		if _, ok := c.get(tok); !ok {
			t.Errorf("%s was evicted, want the expired ones evicted", tok)
		}
	}
	if n := c.len(); n != 3 {
		t.Errorf("len = %d, want 3", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	f := newFixture(t)
	obs := &countingObserver{}
	cfg := f.config()
	cfg.CacheSize, cfg.Observer = -1, obs
	v := startVerifier(t, cfg)
	tok := f.mint(t, f.es, nil)
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if v.cache != nil || obs.hits.Load() != 0 {
		t.Fatalf("cache used although disabled: hits %d", obs.hits.Load())
	}
}

func TestCachedTokenStillChecksExpectations(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.Audience = []string{testAudience, "other"}
	wide := startVerifier(t, cfg)
	tok := f.mint(t, f.es, setClaim("aud", "other"))
	if _, err := wide.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	narrow := wide.WithExpectations(DefaultTokenType, testAudience)
	if _, err := narrow.Verify(t.Context(), tok); !errors.Is(err, ErrAudience) {
		t.Fatalf("cached token with another aud: %v, want ErrAudience", err)
	}
}
