// Package health takes in what hosts report of the plugins they run —
// calls, errors by sandbox error kind, denials, circuit-breaker trips over a
// window — and holds each certified version to the policy's thresholds. A
// version whose hosts see it failing raises an alert (an audit event, which
// webhooks carry to stewards and subscribers) and its next revalidation is
// decided by people: the analyzers passing is not enough for a plugin that
// misbehaves in production.
//
// Why a flag rather than a transition: the lifecycle has no way back from
// certified to review (a version is immutable and was already reviewed),
// and one host's bad night must not pull a plugin from every other host at
// once. The alert reaches people now; the flag makes sure the version is not
// renewed unseen; a steward who wants it gone now suspends it.
//
// The package is domain code: it reaches the database through Records,
// the few reads and writes it needs.
package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/triage"
	"gatehouse.dev/gatehouse/sandbox"
)

// Limits on one report.
const (
	// MaxReportBytes bounds a report's JSON.
	MaxReportBytes = 256 << 10
	// MaxPlugins bounds the plugin versions one report covers.
	MaxPlugins = 500
	// MaxWindow is the longest window one report may cover; MinWindow the
	// shortest. Windows of one host may not overlap, so a host stores at
	// most a day's minutes of reports per version a day.
	MaxWindow = 24 * time.Hour
	MinWindow = time.Minute
	// MaxClockSkew is how far in the future a window may end.
	MaxClockSkew = 5 * time.Minute
	// maxCount bounds every counter (a host making a billion calls a
	// second for a day stays below it).
	maxCount = 1 << 53
)

// ErrorKinds are the sandbox's error kinds a host may report.
var ErrorKinds = []string{
	string(sandbox.KindTimeout), string(sandbox.KindOutOfMemory), string(sandbox.KindTrap),
	string(sandbox.KindDenied), string(sandbox.KindThrottled), string(sandbox.KindOutputTooLarge),
	string(sandbox.KindPluginError), string(sandbox.KindLoadFailed), string(sandbox.KindBreakerOpen),
	string(sandbox.KindCanceled),
}

// Report is one host's report over one window.
type Report struct {
	WindowStart time.Time      `json:"windowStart"`
	WindowEnd   time.Time      `json:"windowEnd"`
	Plugins     []PluginHealth `json:"plugins"`
}

// PluginHealth is what the host saw of one plugin version.
type PluginHealth struct {
	Plugin  string `json:"plugin"` // namespace/name
	Version string `json:"version"`
	Calls   int64  `json:"calls"`
	// Errors counts failed calls by sandbox error kind.
	Errors       map[string]int64 `json:"errors,omitempty"`
	Denials      int64            `json:"denials"`
	BreakerTrips int64            `json:"breakerTrips"`
}

// ErrorCount is the sum of Errors.
func (p PluginHealth) ErrorCount() int64 {
	var n int64
	for _, c := range p.Errors {
		n += c
	}
	return n
}

// ParseReport reads and checks a report, refusing unknown fields, unknown
// error kinds and counts that cannot be true. now bounds the window.
func ParseReport(data []byte, now time.Time) (Report, error) {
	if len(data) > MaxReportBytes {
		return Report{}, fmt.Errorf("the report is %d bytes; the limit is %d", len(data), MaxReportBytes)
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("reading the health report: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Report{}, errors.New("reading the health report: unexpected data after the JSON object")
	}
	return r, r.Validate(now)
}

// Validate checks a report.
func (r *Report) Validate(now time.Time) error {
	switch {
	case r.WindowStart.IsZero() || r.WindowEnd.IsZero():
		return errors.New("the report needs windowStart and windowEnd (RFC 3339 times)")
	case !r.WindowEnd.After(r.WindowStart):
		return errors.New("the report's windowEnd must come after its windowStart")
	case r.WindowEnd.Sub(r.WindowStart) < MinWindow:
		return fmt.Errorf("the report covers %s; report windows of at least %s", r.WindowEnd.Sub(r.WindowStart), MinWindow)
	case r.WindowEnd.Sub(r.WindowStart) > MaxWindow:
		return fmt.Errorf("the report covers %s; report at least every %s", r.WindowEnd.Sub(r.WindowStart), MaxWindow)
	case r.WindowEnd.After(now.Add(MaxClockSkew)):
		return fmt.Errorf("the report's window ends at %s, in the future; check the host's clock", r.WindowEnd.UTC().Format(time.RFC3339))
	case len(r.Plugins) == 0:
		return errors.New("the report names no plugins")
	case len(r.Plugins) > MaxPlugins:
		return fmt.Errorf("the report names %d plugin versions; send at most %d per report", len(r.Plugins), MaxPlugins)
	}
	seen := make(map[string]bool, len(r.Plugins))
	for _, p := range r.Plugins {
		key := p.Plugin + "@" + p.Version
		if p.Plugin == "" || p.Version == "" || len(p.Plugin) > 256 || len(p.Version) > 128 || !strings.Contains(p.Plugin, "/") {
			return fmt.Errorf("plugin %.64q@%.32q: name the plugin as namespace/name and its version", p.Plugin, p.Version)
		}
		if seen[key] {
			return fmt.Errorf("%s is reported twice; add the counts up", key)
		}
		seen[key] = true
		if p.Calls < 0 || p.Calls > maxCount || p.Denials < 0 || p.Denials > maxCount || p.BreakerTrips < 0 || p.BreakerTrips > maxCount {
			return fmt.Errorf("%s: counts must be between 0 and %d", key, int64(maxCount))
		}
		var errs int64
		for kind, n := range p.Errors {
			if !slices.Contains(ErrorKinds, kind) {
				return fmt.Errorf("%s: %.64q is not a sandbox error kind (%s)", key, kind, strings.Join(ErrorKinds, ", "))
			}
			if n < 0 || n > maxCount {
				return fmt.Errorf("%s: the %s count must be between 0 and %d", key, kind, int64(maxCount))
			}
			errs += n
		}
		if errs > p.Calls {
			return fmt.Errorf("%s: %d failed calls out of %d calls", key, errs, p.Calls)
		}
	}
	return nil
}

// Verdict is how one plugin version's report compares with the thresholds.
type Verdict struct {
	ErrorRate float64
	Unhealthy bool
	Reasons   []string
}

// Judge compares a plugin version's counts with the thresholds. The error
// rate counts only over at least MinCalls calls; breaker trips count always.
func Judge(p PluginHealth, th policy.HostHealth) Verdict {
	var v Verdict
	if p.Calls > 0 {
		v.ErrorRate = float64(p.ErrorCount()) / float64(p.Calls)
	}
	if p.Calls >= int64(th.MinCalls) && v.ErrorRate >= th.MaxErrorRate {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%.1f%% of %d calls failed (%s); the threshold is %.1f%%",
			100*v.ErrorRate, p.Calls, kinds(p.Errors), 100*th.MaxErrorRate))
	}
	if p.BreakerTrips >= int64(th.MaxBreakerTrips) {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the circuit breaker tripped %d time(s); the threshold is %d", p.BreakerTrips, th.MaxBreakerTrips))
	}
	v.Unhealthy = len(v.Reasons) > 0
	return v
}

func kinds(m map[string]int64) string {
	ks := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			ks = append(ks, fmt.Sprintf("%s %d", k, n))
		}
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "no kind given"
	}
	return strings.Join(ks, ", ")
}

// Fallback are the thresholds for a version whose policy decision cannot
// be re-made (no stored verdict): the default policy's.
var Fallback = policy.HostHealth{MaxErrorRate: 0.05, MaxBreakerTrips: 3, MinCalls: 100}

// Router routes a version's next revalidation to people
// (revalidate.Scheduler).
type Router interface {
	RequestReview(ctx context.Context, versionID, actor, reason string, evs []audit.Event) error
}

// Records is what the monitor reads and writes: versions by name, their
// health reports, revalidation schedules and verdicts. store.Store is one.
type Records interface {
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error)
	SaveHealthReports(ctx context.Context, rs []domain.HealthReport, evs []audit.Event) error
	GetRevalidation(ctx context.Context, versionID string) (domain.Revalidation, error)
	LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error)
}

// Monitor receives reports.
type Monitor struct {
	Store  Records
	Policy func() *policy.Engine
	Router Router
	Now    func() time.Time
	Log    *slog.Logger
}

// Outcome is what one report led to, per plugin version.
type Outcome struct {
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version"`
	ErrorRate float64  `json:"errorRate"`
	Alert     bool     `json:"alert"`
	Reasons   []string `json:"reasons,omitempty"`
}

// Errors Receive returns for a report it refuses.
var (
	// ErrUnknownVersion: the report names a version the marketplace does
	// not hold.
	ErrUnknownVersion = errors.New("unknown plugin version")
	// ErrOverlap: the host reported part of this window already.
	ErrOverlap = errors.New("the window overlaps one this host reported")
)

// Receive stores a host's report and raises an alert for every certified
// version over its thresholds (once, until a steward clears it).
func (m *Monitor) Receive(ctx context.Context, host string, r Report) ([]Outcome, error) {
	return m.ReceiveIn(ctx, host, "", r)
}

// ReceiveIn is Receive for a host enrolled in an environment: the reports
// are stored with it, so releases count the reports of one environment.
func (m *Monitor) ReceiveIn(ctx context.Context, host, env string, r Report) ([]Outcome, error) {
	now := m.Now()
	if err := r.Validate(now); err != nil {
		return nil, err
	}
	type item struct {
		v domain.Version
		p PluginHealth
	}
	items := make([]item, 0, len(r.Plugins))
	rows := make([]domain.HealthReport, 0, len(r.Plugins))
	for _, p := range r.Plugins {
		v, err := m.Store.GetVersionByName(ctx, p.Plugin, p.Version)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("%s@%s: %w", p.Plugin, p.Version, ErrUnknownVersion)
		}
		if err != nil {
			return nil, err
		}
		prior, err := m.Store.ListHealthReports(ctx, v.ID, r.WindowStart.Add(-MaxWindow-MaxClockSkew), 0)
		if err != nil {
			return nil, err
		}
		for _, x := range prior {
			if x.Host == host && x.WindowEnd.After(r.WindowStart) && x.WindowStart.Before(r.WindowEnd) {
				return nil, fmt.Errorf("%s@%s: %w (%s to %s); send each minute once", p.Plugin, p.Version, ErrOverlap,
					x.WindowStart.UTC().Format(time.RFC3339), x.WindowEnd.UTC().Format(time.RFC3339))
			}
		}
		items = append(items, item{v, p})
		rows = append(rows, domain.HealthReport{VersionID: v.ID, Host: host, Environment: env, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd,
			Calls: p.Calls, Errors: p.Errors, Denials: p.Denials, BreakerTrips: p.BreakerTrips, ReceivedAt: now})
	}
	if err := m.Store.SaveHealthReports(ctx, rows, nil); err != nil {
		return nil, fmt.Errorf("saving the health report: %w", err)
	}
	out := make([]Outcome, 0, len(items))
	for _, it := range items {
		verdict := Judge(it.p, m.thresholds(ctx, it.v.ID))
		o := Outcome{Plugin: it.p.Plugin, Version: it.p.Version, ErrorRate: verdict.ErrorRate, Reasons: verdict.Reasons}
		if verdict.Unhealthy && it.v.State == lifecycle.Certified {
			raised, err := m.alert(ctx, host, it.v, verdict, r)
			if err != nil {
				return out, err
			}
			o.Alert = raised
		}
		out = append(out, o)
	}
	return out, nil
}

// alert records the alert and flags the version, unless it is flagged
// already.
func (m *Monitor) alert(ctx context.Context, host string, v domain.Version, verdict Verdict, r Report) (bool, error) {
	if rv, err := m.Store.GetRevalidation(ctx, v.ID); err == nil && rv.NeedsReview {
		return false, nil
	}
	reason := fmt.Sprintf("host %s reports %s@%s unhealthy between %s and %s: %s", host, v.PluginID, v.Version,
		r.WindowStart.UTC().Format(time.RFC3339), r.WindowEnd.UTC().Format(time.RFC3339), strings.Join(verdict.Reasons, "; "))
	data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "version": v.Version, "host": host, "errorRate": finite(verdict.ErrorRate), "reasons": verdict.Reasons})
	ev := audit.Event{Time: m.Now(), Actor: host, Action: audit.HealthAlert, Subject: "submission:" + v.ID, Reason: reason, Data: data}
	if err := m.Router.RequestReview(ctx, v.ID, host, reason, []audit.Event{ev}); err != nil {
		return false, fmt.Errorf("routing %s@%s to review: %w", v.PluginID, v.Version, err)
	}
	m.log().Warn("host health alert", "plugin", v.PluginID, "version", v.Version, "host", host, "reasons", verdict.Reasons)
	return true, nil
}

// thresholds re-decides the version's stored triage input under the
// active policy, so its tier's thresholds apply.
func (m *Monitor) thresholds(ctx context.Context, versionID string) policy.HostHealth {
	vd, err := m.Store.LatestVerdict(ctx, versionID)
	if err != nil {
		return Fallback
	}
	var tv triage.Verdict
	if err := json.Unmarshal(vd.Body, &tv); err != nil {
		return Fallback
	}
	d, err := m.Policy().Decide(ctx, tv.Input)
	if err != nil {
		m.log().Warn("host health thresholds fall back to the defaults", "version", versionID, "err", err)
		return Fallback
	}
	return d.HostHealth
}

func (m *Monitor) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
