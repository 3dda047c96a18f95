package health

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Default rate limits on health reports, per host token. A host reports
// once per window of at least a minute, in one report or one per plugin,
// so 30 a minute with a burst of 60 leaves a host running many plugins
// room, while a hostile host cannot flood the database with reports.
const (
	DefaultReportsPerMinute = 30
	DefaultReportBurst      = 60
	// DefaultMaxTrackedHosts bounds the limiter's memory: a bucket is a
	// few dozen bytes, so 10,000 hosts are well under a megabyte.
	DefaultMaxTrackedHosts = 10_000
)

// HostLimiter is a token bucket per host subject, in a map of bounded
// size. It is safe for concurrent use.
type HostLimiter struct {
	perMinute int
	burst     float64
	rate      float64 // tokens per second
	max       int
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	at     time.Time
}

// NewHostLimiter allows each host perMinute reports a minute with bursts
// of burst, tracking at most maxHosts hosts at once.
func NewHostLimiter(perMinute, burst, maxHosts int, now func() time.Time) (*HostLimiter, error) {
	if perMinute < 1 || burst < 1 || maxHosts < 1 {
		return nil, fmt.Errorf("health report limits must be at least 1 (reports a minute %d, burst %d, hosts %d)", perMinute, burst, maxHosts)
	}
	if now == nil {
		now = time.Now
	}
	return &HostLimiter{perMinute: perMinute, burst: float64(burst), rate: float64(perMinute) / 60, max: maxHosts, now: now,
		buckets: make(map[string]*tokenBucket)}, nil
}

// Limited says why a report was refused and when to retry.
type Limited struct {
	RetryAfter time.Duration
	Msg        string
}

func (l *Limited) Error() string { return l.Msg }

// Allow takes one report's token from host's bucket, or returns a
// *Limited naming the limit and when to retry.
func (l *HostLimiter) Allow(host string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[host]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		if len(l.buckets) >= l.max {
			// Every tracked host is mid-burst: refuse a new one rather than
			// forget a busy one, which would reset its bucket.
			return &Limited{RetryAfter: l.wait(1), Msg: fmt.Sprintf("the server is tracking the report rate of %d hosts, its limit; retry later", l.max)}
		}
		b = &tokenBucket{tokens: l.burst, at: now}
		l.buckets[host] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return &Limited{RetryAfter: l.wait(1 - b.tokens),
			Msg: fmt.Sprintf("host %s sent more than %d health reports a minute (bursts of %.0f), the per-host limit; send one report per window covering all plugins", host, l.perMinute, l.burst)}
	}
	b.tokens--
	return nil
}

func (l *HostLimiter) refill(b *tokenBucket, now time.Time) {
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
	}
	b.at = now
}

// sweep forgets hosts whose buckets are full again: forgetting them
// changes nothing, since a new bucket starts full.
func (l *HostLimiter) sweep(now time.Time) {
	for h, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, h)
		}
	}
}

// wait is how long until need more tokens have accrued, at least a second
// (Retry-After counts whole seconds).
func (l *HostLimiter) wait(need float64) time.Duration {
	d := time.Duration(math.Ceil(need/l.rate)) * time.Second
	return max(d, time.Second)
}

// Tracked is how many hosts the limiter holds a bucket for.
func (l *HostLimiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
