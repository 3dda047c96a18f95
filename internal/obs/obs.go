// Package obs is Gatehouse's observability: a Prometheus registry per
// process (never the global one, so two marketplaces in one test binary do
// not collide), HTTP metrics labelled by route pattern, metrics of the
// vetting pipeline and the review queue, and request ids carried into every
// log line of a request.
package obs

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse.dev/gatehouse/internal/vet"
)

// Namespace prefixes every Gatehouse metric.
const Namespace = "gatehouse"

// Metrics holds one process's registry and the metrics obs records itself.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge

	analyzerDuration *prometheus.HistogramVec
	analyzerResults  *prometheus.CounterVec
	vetRuns          *prometheus.CounterVec
	stageDuration    *prometheus.HistogramVec
}

// New returns Metrics on a fresh registry, with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to serve an HTTP request, by method and route pattern.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route"})
	m.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being served.",
	})
	m.analyzerDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "vet", Name: "analyzer_duration_seconds",
		Help: "Time one analyzer took over one version.",
		// Analyzers run from microseconds (manifest checks) to a minute
		// (rebuilds, behaviour runs) under their timeouts.
		Buckets: []float64{.001, .005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"analyzer"})
	m.analyzerResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "vet", Name: "analyzer_results_total",
		Help: "Analyzer results by analyzer and status (passed, failed, errored, skipped).",
	}, []string{"analyzer", "status"})
	m.vetRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "vet", Name: "runs_total",
		Help: "Vetting runs recorded, by whether they blocked the version.",
	}, []string{"blocked"})
	m.stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "pipeline", Name: "stage_duration_seconds",
		Help:    "Time each stage of the pipeline took over one version: stage vet, triage or certify (a job, analyzer empty), or stage analyzer with the analyzer's name.",
		Buckets: []float64{.001, .005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"stage", "analyzer"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.httpInFlight,
		m.analyzerDuration, m.analyzerResults, m.vetRuns, m.stageDuration,
	)
	return m
}

// Registerer is where other layers register their collectors.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Gatherer reads the registry (for tests and the handler).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in the Prometheus exposition format. Access
// control is the caller's: the server puts it behind a token.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing collector (the store is down) must not hide the others.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
}

// ObserveVetRun records one vetting run's results: each analyzer's
// duration and status, and whether the run blocked.
func (m *Metrics) ObserveVetRun(results []vet.Result, blocked bool) {
	for _, r := range results {
		m.analyzerResults.WithLabelValues(r.Analyzer, string(r.Status)).Inc()
		if r.Status != vet.Skipped {
			m.analyzerDuration.WithLabelValues(r.Analyzer).Observe(r.Duration.Seconds())
			m.stageDuration.WithLabelValues("analyzer", r.Analyzer).Observe(r.Duration.Seconds())
		}
	}
	b := "false"
	if blocked {
		b = "true"
	}
	m.vetRuns.WithLabelValues(b).Inc()
}

// ObserveStage records how long one pipeline step (vet, triage, certify)
// took over one version, in the per-stage histogram beside the analyzers
// (which ObserveVetRun records).
func (m *Metrics) ObserveStage(step string, d time.Duration) {
	m.stageDuration.WithLabelValues(step, "").Observe(d.Seconds())
}
