package sandbox

import (
	"sync"
	"time"
)

// tokenBucket is a minimal token bucket: rate tokens a second, up to burst.
type tokenBucket struct {
	mu     sync.Mutex
	now    func() time.Time
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now func() time.Time) *tokenBucket {
	if rate <= 0 {
		return nil
	}
	return &tokenBucket{now: now, rate: rate, burst: float64(burst), tokens: float64(burst), last: now()}
}

// allow takes a token if one is available. A nil bucket always allows.
func (b *tokenBucket) allow() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	if elapsed := t.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = t
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
