package obs

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/domain"
)

// QueueCollector reports the review queue and the vetting backlog, read
// from the store when scraped. A scrape reads at most once per TTL (the
// answer is cached) and waits at most Timeout, so frequent scrapes or a slow
// database cannot pile queries onto the store.
type QueueCollector struct {
	Read    func(ctx context.Context, now time.Time) (domain.QueueStats, error)
	Now     func() time.Time
	TTL     time.Duration
	Timeout time.Duration

	mu      sync.Mutex
	cached  domain.QueueStats
	readAt  time.Time
	lastErr error

	open, overdue, escalated, claimed, oldestAge, missed, vetQueued, vetAge, up *prometheus.Desc
}

// NewQueueCollector returns a collector over read, caching for 15 seconds
// and timing out after 5.
func NewQueueCollector(read func(ctx context.Context, now time.Time) (domain.QueueStats, error)) *QueueCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", name), help, nil, nil)
	}
	return &QueueCollector{
		Read: read, Now: time.Now, TTL: 15 * time.Second, Timeout: 5 * time.Second,
		open:      d("review_open", "Versions waiting in the review queue."),
		overdue:   d("review_overdue", "Open reviews past their deadline."),
		escalated: d("review_escalated", "Open reviews escalated for a missed deadline."),
		claimed:   d("review_claimed", "Open reviews claimed by a reviewer."),
		oldestAge: d("review_oldest_age_seconds", "Age of the oldest open review (0 when the queue is empty)."),
		missed:    d("review_missed_deadlines", "Reviews ever escalated for a missed deadline (open or decided)."),
		vetQueued: d("vet_jobs", "Vetting jobs queued or running."),
		vetAge:    d("vet_oldest_age_seconds", "Age of the oldest queued or running vetting job (0 when none)."),
		up:        d("read_ok", "1 when the last read of the queue from the store succeeded."),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.overdue, c.escalated, c.claimed, c.oldestAge, c.missed, c.vetQueued, c.vetAge, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	q, now, err := c.stats()
	ok := 1.0
	if err != nil {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ok)
	if err != nil && q == (domain.QueueStats{}) {
		return // never read successfully: report nothing rather than zeros
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return now.Sub(t).Seconds()
	}
	g(c.open, float64(q.Open))
	g(c.overdue, float64(q.Overdue))
	g(c.escalated, float64(q.Escalated))
	g(c.claimed, float64(q.Claimed))
	g(c.oldestAge, age(q.OldestCreated))
	g(c.missed, float64(q.MissedDeadlines))
	g(c.vetQueued, float64(q.VetQueued))
	g(c.vetAge, age(q.OldestVetJob))
}

// stats returns the cached figures, reading again when they are older than
// TTL. On a failed read the last good figures are kept, with the error.
func (c *QueueCollector) stats() (domain.QueueStats, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.TTL {
		return c.cached, now, c.lastErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	q, err := c.Read(ctx, now)
	c.readAt, c.lastErr = now, err
	if err == nil {
		c.cached = q
	}
	return c.cached, now, err
}
