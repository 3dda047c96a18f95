package obs

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Gauge names one figure of a Snapshot.
type Gauge struct {
	Name, Help string
}

// Snapshot reports figures read from somewhere slow (the store) when
// scraped, like QueueCollector: cached for TTL, each read bounded by
// Timeout, the last good figures kept (with read_ok 0) when a read fails.
type Snapshot struct {
	Read    func(ctx context.Context, now time.Time) (map[string]float64, error)
	Now     func() time.Time
	TTL     time.Duration
	Timeout time.Duration

	descs map[string]*prometheus.Desc
	up    *prometheus.Desc

	mu     sync.Mutex
	cached map[string]float64
	readAt time.Time
	err    error
}

// NewSnapshot returns a collector of gauges named gatehouse_SUBSYSTEM_NAME.
func NewSnapshot(subsystem string, gauges []Gauge, read func(ctx context.Context, now time.Time) (map[string]float64, error)) *Snapshot {
	s := &Snapshot{Read: read, Now: time.Now, TTL: 15 * time.Second, Timeout: 5 * time.Second, descs: map[string]*prometheus.Desc{}}
	for _, g := range gauges {
		s.descs[g.Name] = prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, g.Name), g.Help, nil, nil)
	}
	s.up = prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, "read_ok"), "1 when the last read of these figures succeeded.", nil, nil)
	return s
}

// Describe implements prometheus.Collector.
func (s *Snapshot) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range s.descs {
		ch <- d
	}
	ch <- s.up
}

// Collect implements prometheus.Collector.
func (s *Snapshot) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	now := s.Now()
	if s.readAt.IsZero() || now.Sub(s.readAt) >= s.TTL {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		v, err := s.Read(ctx, now)
		cancel()
		s.readAt, s.err = now, err
		if err == nil {
			s.cached = v
		}
	}
	vals, err := s.cached, s.err
	s.mu.Unlock()
	ok := 1.0
	if err != nil {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(s.up, prometheus.GaugeValue, ok)
	for name, d := range s.descs {
		if v, found := vals[name]; found {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
		}
	}
}
