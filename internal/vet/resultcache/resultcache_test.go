package resultcache

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
)

func base() Key {
	return Key{Analyzer: "secrets", AnalyzerVersion: "1.1.0", RulesDigest: "r1", Database: "osv 2026-12-01", Part: "file:main.go", Content: sha256.Sum256([]byte("package main"))}
}

// TestEveryKeyFieldDecides: a result is found again only under the key
// it was stored with; a change to any one field (the content, the rules,
// the analyzer version, the database) misses.
func TestEveryKeyFieldDecides(t *testing.T) {
	c := New[string](Limits{})
	c.Put(base(), "stored", 6)
	if v, ok := c.Get(base()); !ok || v != "stored" {
		t.Fatalf("Get(same key) = %q, %v; want the stored result", v, ok)
	}
	for name, change := range map[string]func(*Key){
		"content":          func(k *Key) { k.Content = sha256.Sum256([]byte("package main // changed")) },
		"rules digest":     func(k *Key) { k.RulesDigest = "r2" },
		"analyzer version": func(k *Key) { k.AnalyzerVersion = "1.2.0" },
		"database version": func(k *Key) { k.Database = "osv 2026-12-02" },
		"analyzer":         func(k *Key) { k.Analyzer = "licenses" },
		"part":             func(k *Key) { k.Part = "file:other.go" },
		// Moving bytes between fields must not make the same key.
		"field boundary": func(k *Key) { k.Analyzer, k.AnalyzerVersion = "secrets1", ".1.0" },
	} {
		k := base()
		change(&k)
		if v, ok := c.Get(k); ok {
			t.Errorf("after a %s change the cached result %q was reused", name, v)
		}
	}
}

func key(i int) Key {
	k := base()
	k.Part = fmt.Sprintf("file:%d.go", i)
	return k
}

func TestBoundedByEntriesLeastRecentlyUsedFirst(t *testing.T) {
	c := New[int](Limits{MaxEntries: 3, MaxBytes: 1 << 20})
	for i := range 3 {
		c.Put(key(i), i, 1)
	}
	c.Get(key(0)) // 1 is now the least recently used
	c.Put(key(3), 3, 1)
	if _, ok := c.Get(key(1)); ok {
		t.Error("the least recently used result was kept past the entry limit")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.Get(key(i)); !ok {
			t.Errorf("result %d was evicted; only the least recently used should be", i)
		}
	}
	if s := c.Stats(); s.Entries != 3 {
		t.Errorf("%d entries held, limit 3", s.Entries)
	}
}

func TestBoundedByBytes(t *testing.T) {
	c := New[int](Limits{MaxEntries: 100, MaxBytes: 1000})
	for i := range 10 {
		c.Put(key(i), i, 300)
	}
	if s := c.Stats(); s.Bytes > 1000 || s.Entries != 3 {
		t.Errorf("holding %d bytes in %d entries; limit 1000 bytes, so 3 results of 300", s.Bytes, s.Entries)
	}
	c.Put(key(99), 99, 2000)
	if _, ok := c.Get(key(99)); ok {
		t.Error("a result larger than the whole cache was held")
	}
	// Replacing a result accounts its new size, not both.
	c.Put(key(9), 9, 100)
	if s := c.Stats(); s.Bytes != 700 {
		t.Errorf("after replacing a 300-byte result by 100 bytes: %d bytes, want 700", s.Bytes)
	}
}

func TestNilCacheCachesNothing(t *testing.T) {
	var c *Cache[int]
	c.Put(base(), 1, 1)
	if _, ok := c.Get(base()); ok {
		t.Error("a nil cache returned a result")
	}
	if s := c.Stats(); s != (Stats{}) {
		t.Errorf("nil cache stats %+v", s)
	}
}

// TestConcurrentUse is for the race detector: vetting runs share one
// cache.
func TestConcurrentUse(t *testing.T) {
	c := New[int](Limits{MaxEntries: 16, MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := key((g + i) % 32)
				if v, ok := c.Get(k); ok && v != (g+i)%32 {
					t.Errorf("key %d held %d", (g+i)%32, v)
				}
				c.Put(k, (g+i)%32, 10)
			}
		}()
	}
	wg.Wait()
	if s := c.Stats(); s.Entries > 16 || s.Hits+s.Misses != 1600 {
		t.Errorf("stats %+v: over the limit or lookups lost", s)
	}
}
