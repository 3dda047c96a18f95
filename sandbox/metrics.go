package sandbox

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Runtime's Prometheus collectors. Every series carries
// the plugin id and version, so a swap shows the new version beside the
// old one.
type metrics struct {
	calls     *prometheus.CounterVec   // plugin, version, result
	latency   *prometheus.HistogramVec // plugin, version
	memory    *prometheus.GaugeVec     // plugin, version
	denials   *prometheus.CounterVec   // plugin, version, function
	throttles *prometheus.CounterVec   // plugin, version, reason
	loads     *prometheus.CounterVec   // plugin, version, result
	breaker   *prometheus.GaugeVec     // plugin, version
}

// ResultOK is the result label of a successful call and load.
const ResultOK = "ok"

// Throttle reasons, the reason label of the throttles metric.
const (
	ThrottleConcurrency = "concurrency"
	ThrottleRate        = "rate"
	ThrottleHostCalls   = "host_calls"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	pv := []string{"plugin", "version"}
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "calls_total",
			Help: "Plugin calls by result: ok or the error kind.",
		}, append(pv, "result")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "call_duration_seconds",
			Help:    "Duration of plugin calls that ran, instantiation included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, pv),
		memory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "memory_high_water_bytes",
			Help: "Largest linear memory any call of the plugin reached.",
		}, pv),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "denials_total",
			Help: "Host function calls refused for lack of a permission, by function.",
		}, append(pv, "function")),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "throttles_total",
			Help: "Calls throttled, by reason: concurrency, rate or host_calls.",
		}, append(pv, "reason")),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "loads_total",
			Help: "Plugin loads by result: ok or failed.",
		}, append(pv, "result")),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "plugin", Name: "breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, pv),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	reg1 := func(c **prometheus.CounterVec) {
		if err == nil {
			*c, err = register(reg, *c)
		}
	}
	reg1(&m.calls)
	reg1(&m.denials)
	reg1(&m.throttles)
	reg1(&m.loads)
	if err == nil {
		m.latency, err = register(reg, m.latency)
	}
	if err == nil {
		m.memory, err = register(reg, m.memory)
	}
	if err == nil {
		m.breaker, err = register(reg, m.breaker)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name, so several Runtimes can share one registry.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("registering sandbox metrics: %w", err)
	}
	return c, nil
}
