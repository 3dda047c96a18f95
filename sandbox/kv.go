package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrNotFound is returned by KV, Secrets and DataFunc implementations for a
// missing key, secret or record; the plugin sees hostapi.StatusNotFound.
var ErrNotFound = errors.New("not found")

// KV is the key-value store behind kv_get, kv_set and kv_delete. Every
// method receives the plugin id; an implementation must keep plugins'
// keys apart. Hosts with their own storage implement it; MemoryKV is the
// built-in one.
type KV interface {
	Get(ctx context.Context, plugin, key string) ([]byte, error) // ErrNotFound if absent
	Set(ctx context.Context, plugin, key string, value []byte) error
	Delete(ctx context.Context, plugin, key string) error
}

// KVTag is what the sandbox attaches to a value a plugin stores: the data
// categories its manifest declares (data.categories) and when the value
// expires under its declared retention (data.retention).
type KVTag struct {
	Categories []string
	Expires    time.Time
}

// TaggedKV is a KV that keeps tags and expires values on them. When a
// plugin's manifest declares a data retention, the sandbox stores its
// values only through SetTagged: a host whose KV does not implement it
// refuses the plugin's kv_set rather than keep data past its retention.
type TaggedKV interface {
	KV
	// SetTagged stores value under key with tag. Get must answer
	// ErrNotFound for a value whose tag has expired.
	SetTagged(ctx context.Context, plugin, key string, value []byte, tag KVTag) error
}

// MaxKVKeyBytes bounds a key; the sandbox refuses longer ones.
const MaxKVKeyBytes = 256

// MemoryKV is an in-memory TaggedKV, scoped per plugin id, with a cap on
// the number of keys each plugin may hold. An expired value is gone for
// Get at once, and its memory is freed by the next Set of the plugin or by
// Expire.
type MemoryKV struct {
	// MaxKeys bounds the keys one plugin may hold (default 10,000).
	MaxKeys int
	// Now is the clock expiry is judged by (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	data map[string]map[string]kvEntry
}

type kvEntry struct {
	value []byte
	tag   KVTag
}

func (e kvEntry) expired(now time.Time) bool {
	return !e.tag.Expires.IsZero() && !now.Before(e.tag.Expires)
}

func (m *MemoryKV) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// NewMemoryKV returns an empty MemoryKV.
func NewMemoryKV() *MemoryKV { return &MemoryKV{} }

// ErrKVFull is returned when a plugin would exceed MemoryKV.MaxKeys.
var ErrKVFull = errors.New("key-value store is full for this plugin")

func (m *MemoryKV) Get(_ context.Context, plugin, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[plugin][key]
	if !ok || e.expired(m.now()) {
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.value...), nil
}

// Set stores an untagged value, which never expires.
func (m *MemoryKV) Set(ctx context.Context, plugin, key string, value []byte) error {
	return m.SetTagged(ctx, plugin, key, value, KVTag{})
}

// SetTagged stores value with its tag.
func (m *MemoryKV) SetTagged(_ context.Context, plugin, key string, value []byte, tag KVTag) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = make(map[string]map[string]kvEntry)
	}
	p := m.data[plugin]
	if p == nil {
		p = make(map[string]kvEntry)
		m.data[plugin] = p
	}
	now := m.now()
	for k, e := range p {
		if e.expired(now) {
			delete(p, k) // so expired values never count against the cap
		}
	}
	limit := m.MaxKeys
	if limit <= 0 {
		limit = 10000
	}
	if _, exists := p[key]; !exists && len(p) >= limit {
		return fmt.Errorf("%w (%d keys)", ErrKVFull, limit)
	}
	tag.Categories = slices.Clone(tag.Categories)
	p[key] = kvEntry{value: append([]byte(nil), value...), tag: tag}
	return nil
}

// Expire deletes every value whose retention has ended and returns how
// many it deleted. Get already hides them; Expire frees their memory, for
// a host that runs it periodically.
func (m *MemoryKV) Expire() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	n := 0
	for _, p := range m.data {
		for k, e := range p {
			if e.expired(now) {
				delete(p, k)
				n++
			}
		}
	}
	return n
}

// Tag returns the tag of one plugin's value, for tests and for a host's
// data inventory; false when the value is absent or expired.
func (m *MemoryKV) Tag(plugin, key string) (KVTag, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[plugin][key]
	if !ok || e.expired(m.now()) {
		return KVTag{}, false
	}
	return KVTag{Categories: slices.Clone(e.tag.Categories), Expires: e.tag.Expires}, true
}

func (m *MemoryKV) Delete(_ context.Context, plugin, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data[plugin], key)
	return nil
}

// Snapshot returns a copy of one plugin's values as text, for tests and
// scenario checks.
func (m *MemoryKV) Snapshot(plugin string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.data[plugin]))
	now := m.now()
	for k, e := range m.data[plugin] {
		if !e.expired(now) {
			out[k] = string(e.value)
		}
	}
	return out
}
