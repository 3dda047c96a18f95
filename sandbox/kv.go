package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// MaxKVKeyBytes bounds a key; the sandbox refuses longer ones.
const MaxKVKeyBytes = 256

// MemoryKV is an in-memory KV, scoped per plugin id, with a cap on the
// number of keys each plugin may hold.
type MemoryKV struct {
	// MaxKeys bounds the keys one plugin may hold (default 10,000).
	MaxKeys int

	mu   sync.Mutex
	data map[string]map[string][]byte
}

// NewMemoryKV returns an empty MemoryKV.
func NewMemoryKV() *MemoryKV { return &MemoryKV{} }

// ErrKVFull is returned when a plugin would exceed MemoryKV.MaxKeys.
var ErrKVFull = errors.New("key-value store is full for this plugin")

func (m *MemoryKV) Get(_ context.Context, plugin, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[plugin][key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *MemoryKV) Set(_ context.Context, plugin, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = make(map[string]map[string][]byte)
	}
	p := m.data[plugin]
	if p == nil {
		p = make(map[string][]byte)
		m.data[plugin] = p
	}
	limit := m.MaxKeys
	if limit <= 0 {
		limit = 10000
	}
	if _, exists := p[key]; !exists && len(p) >= limit {
		return fmt.Errorf("%w (%d keys)", ErrKVFull, limit)
	}
	p[key] = append([]byte(nil), value...)
	return nil
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
	for k, v := range m.data[plugin] {
		out[k] = string(v)
	}
	return out
}
