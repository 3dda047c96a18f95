package marketplace

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/internal/app"
	"gatehouse.dev/gatehouse/internal/obs"
	"gatehouse.dev/gatehouse/internal/tracing"
	"gatehouse.dev/gatehouse/internal/web"
)

// maxCounted bounds the rows a metrics read counts.
const maxCounted = 1000

// openWeb sets up the web pages, the metrics and the request logs: the
// pages answer every path outside /api/ that no API route takes; every
// request, API or page, goes through one middleware that gives it a
// request id, counts it by route pattern and logs it once.
func (m *Marketplace) openWeb(ctx context.Context, p *parts) error {
	log := slog.New(obs.LogHandler(m.cfg.Log.Handler()))
	m.Intake.VetRunSaved = m.Metrics.ObserveVetRun
	reg := m.Metrics.Registerer()
	reg.MustRegister(obs.NewQueueCollector(m.Store.QueueStats))
	if m.Trust != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: obs.Namespace, Subsystem: "log", Name: "entries_total",
			Help: "Entries integrated into the transparency log (its tree size).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := m.Store.LogState(ctx)
			if err != nil || st.Size < 0 {
				return 0
			}
			return float64(st.Size)
		}))
		reg.MustRegister(obs.NewSnapshot("log", []obs.Gauge{
			{Name: "pending_entries", Help: "Trust events queued for the log but not yet appended (counted up to 1000)."},
		}, func(ctx context.Context, _ time.Time) (map[string]float64, error) {
			p, err := m.Store.PendingTrustEvents(ctx, maxCounted)
			return map[string]float64{"pending_entries": float64(len(p))}, err
		}))
	}
	if m.Revalidate != nil {
		reg.MustRegister(obs.NewSnapshot("revalidation", []obs.Gauge{
			{Name: "due", Help: "Certified or suspended versions due for revalidation (counted up to 1000)."},
			{Name: "deadline_passed", Help: "Suspended versions past their remediation deadline, waiting for the scheduler."},
			{Name: "oldest_due_age_seconds", Help: "How long the most overdue revalidation has waited (0 when none)."},
		}, func(ctx context.Context, now time.Time) (map[string]float64, error) {
			due, err := m.Store.DueRevalidations(ctx, now, maxCounted)
			out := map[string]float64{"due": float64(len(due)), "deadline_passed": 0, "oldest_due_age_seconds": 0}
			for _, r := range due {
				if !r.Deadline.IsZero() && !r.Deadline.After(now) {
					out["deadline_passed"]++
				}
				if age := now.Sub(r.NextAt).Seconds(); !r.NextAt.IsZero() && age > out["oldest_due_age_seconds"] {
					out["oldest_due_age_seconds"] = age
				}
			}
			return out, err
		}))
	}
	key, err := web.LoadOrCreateKey(m.cfg.Data)
	if err != nil {
		return err
	}
	// One application layer behind the API and the pages; every service
	// the layers above opened is in p.app by now (openWeb runs last).
	p.app.Log = log
	a := app.New(p.app)
	p.server.App = a
	wcfg := web.Config{
		App: a, SessionKey: key,
		PublicURL: m.cfg.PublicURL, Secure: strings.HasPrefix(m.cfg.PublicURL, "https://"),
		Log: log,
	}
	if m.Trust != nil {
		wcfg.Certificates = m.Trust
	}
	pages, err := web.New(wcfg)
	if err != nil {
		return fmt.Errorf("setting up the web pages: %w", err)
	}
	p.server.Fallback = pages
	p.server.Metrics = m.Metrics.Handler()
	p.server.Middleware = func(h http.Handler) http.Handler { return m.Metrics.Middleware(h, log) }
	if tp := m.cfg.TracerProvider; tp != nil {
		// Tracing sits inside the metrics middleware, which reads the
		// route the mux matched (tracing.Middleware says why).
		traced := tracing.Middleware(tp)
		p.server.Middleware = func(h http.Handler) http.Handler { return m.Metrics.Middleware(traced(h), log) }
	}
	p.server.Log = log
	return nil
}
