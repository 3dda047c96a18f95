// Package resultcache holds what an analyzer found in one part of a
// package (a file, a module), so that vetting an update re-scans only the
// parts that changed.
//
// A result is reused only when everything that decides it is the same:
// the part's content digest, where it sits in the package (its path and
// role, since rules and locations depend on them), the analyzer, the
// analyzer's version, the digest of its rules and the version of any
// database it consults. Each of these is a field of Key, so a caller
// cannot forget one without leaving a field empty on purpose.
//
// The cache lives in memory, in the process that vets, bounded by entries
// and by bytes and evicting the least recently used; it is shared by
// every version of every plugin that process vets. It is never written
// to disk or the store: a cached result may quote what it found (a
// secret's value, for its fingerprint), and a result read back from
// shared storage would be one more thing to trust.
package resultcache

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Key names one analyzer's result for one part of a package.
type Key struct {
	Analyzer        string
	AnalyzerVersion string
	// RulesDigest identifies the analyzer's rules as loaded, e.g. the
	// SHA-256 of its rule file; a changed rule is a changed digest.
	RulesDigest string
	// Database is the version of the database the result was matched
	// against ("" when the analyzer consults none).
	Database string
	// Part is where the content sits in the package and how it was read,
	// e.g. "file:README.md" or "module:plugin.wasm".
	Part string
	// Content is the SHA-256 of the part's bytes.
	Content [sha256.Size]byte
}

// sum hashes the key's fields, each prefixed by its length so that no two
// keys share a hash by moving bytes from one field to the next.
func (k Key) sum() [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{k.Analyzer, k.AnalyzerVersion, k.RulesDigest, k.Database, k.Part} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write(k.Content[:])
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// Limits bound a cache.
type Limits struct {
	// MaxEntries bounds the number of results held.
	MaxEntries int
	// MaxBytes bounds the sum of the sizes the caller gave with Put.
	MaxBytes int64
}

// DefaultLimits hold the results of a few thousand files: enough for
// the plugins updated in a day, small beside a worker's memory.
func DefaultLimits() Limits { return Limits{MaxEntries: 50_000, MaxBytes: 64 << 20} }

// Cache holds results of type V. It is safe for concurrent use. A nil
// *Cache caches nothing: Get always misses and Put does nothing, so an
// analyzer can take one optionally.
type Cache[V any] struct {
	lim          Limits
	hits, misses atomic.Int64

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*list.Element
	lru   list.List // front: most recently used; values are *entry[V]
	bytes int64
}

type entry[V any] struct {
	key  [sha256.Size]byte
	val  V
	size int64
}

// New returns an empty cache bounded by lim; a limit that is not
// positive takes the default's.
func New[V any](lim Limits) *Cache[V] {
	def := DefaultLimits()
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = def.MaxEntries
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = def.MaxBytes
	}
	return &Cache[V]{lim: lim, byKey: make(map[[sha256.Size]byte]*list.Element)}
}

// Get returns the result held under k. The caller must not modify it:
// the same value goes to every caller that asks.
func (c *Cache[V]) Get(k Key) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := k.sum()
	c.mu.Lock()
	el, ok := c.byKey[s]
	var v V
	if ok {
		c.lru.MoveToFront(el)
		// Read under the lock: Put replaces an entry's value in place.
		v = el.Value.(*entry[V]).val
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return zero, false
	}
	c.hits.Add(1)
	return v, true
}

// Put holds v under k; size is what v costs in bytes, as near as the
// caller can tell. A value larger than the whole cache is not held.
func (c *Cache[V]) Put(k Key, v V, size int64) {
	if c == nil || size > c.lim.MaxBytes {
		return
	}
	size = max(size, 1)
	s := k.sum()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[s]; ok {
		e := el.Value.(*entry[V])
		c.bytes += size - e.size
		e.val, e.size = v, size
		c.lru.MoveToFront(el)
	} else {
		c.byKey[s] = c.lru.PushFront(&entry[V]{key: s, val: v, size: size})
		c.bytes += size
	}
	for c.lru.Len() > c.lim.MaxEntries || c.bytes > c.lim.MaxBytes {
		el := c.lru.Back()
		e := el.Value.(*entry[V])
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.bytes -= e.size
	}
}

// Stats counts the cache's lookups and what it holds.
type Stats struct {
	Hits, Misses int64
	Entries      int
	Bytes        int64
}

// Stats returns the counts so far.
func (c *Cache[V]) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: c.lru.Len(), Bytes: c.bytes}
}
