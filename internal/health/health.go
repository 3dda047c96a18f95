// Package health takes in what hosts report of the plugins they run —
// calls, errors by sandbox error kind, denials, circuit-breaker trips over a
// window — and holds each certified version to the policy's thresholds.
//
// Host health by quorum: a failing report quarantines the version on the
// reporting host only (the answer says Quarantine, and the host stops the
// plugin) and casts that host's one vote against it; the first vote of a
// host within the window raises an alert (an audit event, which webhooks
// carry to stewards). The version is suspended marketplace-wide, through
// the one suspension path, only when the policy's quorum of distinct hosts
// (default 3 within 24 hours) or a steward's confirmation stands against
// it. Why: one faulty or hostile host must not take a plugin down on every
// other host. Votes are keyed by host token, so repeating a report does not
// add a vote, and reports are rate-limited per host (HostLimiter).
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
	"sync"
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

// Suspender suspends a version marketplace-wide through the one
// suspension path (certify.Service), recording extra audit events in the
// same transaction.
type Suspender interface {
	SuspendAudited(ctx context.Context, versionID, actor, reason string, deadline time.Time, extra []audit.Event) error
}

// Records is what the monitor reads and writes: versions, their health
// reports and quorum votes, and verdicts. store.Store is one.
type Records interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	GetVersionByName(ctx context.Context, pluginID, version string) (domain.Version, error)
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error)
	RecordHealthReports(ctx context.Context, rs []domain.HealthReport, votes []domain.HealthVote, evs []audit.Event) error
	ListHealthVotes(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthVote, error)
	LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error)
}

// Monitor receives reports. A failing report quarantines the version on
// the reporting host (the answer tells it so) and casts that host's one
// vote; the version is suspended everywhere only when the policy's quorum
// of distinct hosts, or a steward's confirmation, is reached.
type Monitor struct {
	Store     Records
	Policy    func() *policy.Engine
	Suspender Suspender
	// Limiter limits reports per host; nil means the defaults.
	Limiter *HostLimiter
	Now     func() time.Time
	Log     *slog.Logger

	limiterOnce sync.Once
}

// Outcome is what one report led to, per plugin version.
type Outcome struct {
	Plugin    string   `json:"plugin"`
	Version   string   `json:"version"`
	ErrorRate float64  `json:"errorRate"`
	Alert     bool     `json:"alert"`
	Reasons   []string `json:"reasons,omitempty"`
	// Quarantine: the version is failing on this host; the host stops
	// running it (sandbox.Host.Quarantine) until its operator clears it.
	Quarantine bool `json:"quarantine"`
	// Hosts is how many distinct hosts stand against the version within
	// the quorum window, RequiredHosts the quorum.
	Hosts         int `json:"hosts,omitempty"`
	RequiredHosts int `json:"requiredHosts,omitempty"`
	// Suspended: this report completed the quorum and the version is
	// suspended marketplace-wide.
	Suspended bool `json:"suspended"`
}

// Errors Receive and Confirm return for what they refuse.
var (
	// ErrUnknownVersion: the report names a version the marketplace does
	// not hold.
	ErrUnknownVersion = errors.New("unknown plugin version")
	// ErrOverlap: the host reported part of this window already.
	ErrOverlap = errors.New("the window overlaps one this host reported")
	// ErrNotCertified: only a certified version can be confirmed failing.
	ErrNotCertified = errors.New("the version is not certified")
	// ErrNoReports: no host reported the version failing within the
	// quorum window, so there is nothing to confirm.
	ErrNoReports = errors.New("no host reported the version failing within the quorum window")
)

// Admit takes one report's token from host's rate limit, or returns a
// *Limited.
func (m *Monitor) Admit(host string) error {
	m.limiterOnce.Do(func() {
		if m.Limiter == nil {
			// The defaults are valid, so this cannot fail.
			m.Limiter, _ = NewHostLimiter(DefaultReportsPerMinute, DefaultReportBurst, DefaultMaxTrackedHosts, m.Now)
		}
	})
	return m.Limiter.Allow(host)
}

// Receive stores a host's report. For every certified version it judges
// failing, the host's vote is recorded with the report (an alert the first
// time within the quorum window), and the version is suspended when the
// votes reach the policy's quorum.
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
	eng := m.Policy()
	settings, err := eng.QuorumSettings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the policy's health quorum: %w", err)
	}
	type item struct {
		v       domain.Version
		p       PluginHealth
		verdict Verdict
		remedy  int
		voted   bool
	}
	items := make([]item, 0, len(r.Plugins))
	rows := make([]domain.HealthReport, 0, len(r.Plugins))
	var votes []domain.HealthVote
	var alerts []audit.Event
	for _, p := range r.Plugins {
		v, err := m.Store.GetVersionByName(ctx, p.Plugin, p.Version)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("%s@%s: %w", p.Plugin, p.Version, ErrUnknownVersion)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s@%s: %w", p.Plugin, p.Version, err)
		}
		prior, err := m.Store.ListHealthReports(ctx, v.ID, r.WindowStart.Add(-MaxWindow-MaxClockSkew), 0)
		if err != nil {
			return nil, fmt.Errorf("reading the reports of %s@%s: %w", p.Plugin, p.Version, err)
		}
		for _, x := range prior {
			if x.Host == host && x.WindowEnd.After(r.WindowStart) && x.WindowStart.Before(r.WindowEnd) {
				return nil, fmt.Errorf("%s@%s: %w (%s to %s); send each minute once", p.Plugin, p.Version, ErrOverlap,
					x.WindowStart.UTC().Format(time.RFC3339), x.WindowEnd.UTC().Format(time.RFC3339))
			}
		}
		th, remedy := m.thresholds(ctx, eng, v.ID)
		it := item{v: v, p: p, verdict: Judge(p, th), remedy: remedy}
		rows = append(rows, domain.HealthReport{VersionID: v.ID, Host: host, Environment: env, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd,
			Calls: p.Calls, Errors: p.Errors, Denials: p.Denials, BreakerTrips: p.BreakerTrips, ReceivedAt: now})
		if it.verdict.Unhealthy && v.State == lifecycle.Certified {
			it.voted = true
			reason := fmt.Sprintf("host %s reports %s@%s unhealthy between %s and %s: %s", host, v.PluginID, v.Version,
				r.WindowStart.UTC().Format(time.RFC3339), r.WindowEnd.UTC().Format(time.RFC3339), strings.Join(it.verdict.Reasons, "; "))
			votes = append(votes, domain.HealthVote{VersionID: v.ID, Voter: host, Kind: policy.VoteHost, FirstAt: now, LastAt: now, Reports: 1, Reason: truncate(reason, 4096)})
			// One alert per host and window: a host that keeps reporting
			// does not flood stewards' webhooks.
			standing, err := m.Store.ListHealthVotes(ctx, v.ID, now.Add(-settings.Window()), policy.MaxQuorumVotes)
			if err != nil {
				return nil, fmt.Errorf("reading the health votes on %s@%s: %w", v.PluginID, v.Version, err)
			}
			if !hasVote(standing, policy.VoteHost, host) {
				hosts := countHosts(standing) + 1
				data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "version": v.Version, "host": host, "errorRate": finite(it.verdict.ErrorRate),
					"reasons": it.verdict.Reasons, "hosts": hosts, "requiredHosts": settings.RequiredHosts})
				alerts = append(alerts, audit.Event{Time: now, Actor: host, Action: audit.HealthAlert, Subject: "submission:" + v.ID, Reason: truncate(reason, 4096), Data: data})
				m.log().Warn("host health alert", "plugin", v.PluginID, "version", v.Version, "host", host, "reasons", it.verdict.Reasons)
			}
		}
		items = append(items, it)
	}
	if err := m.Store.RecordHealthReports(ctx, rows, votes, alerts); err != nil {
		return nil, fmt.Errorf("saving the health report: %w", err)
	}
	out := make([]Outcome, 0, len(items))
	for _, it := range items {
		o := Outcome{Plugin: it.p.Plugin, Version: it.p.Version, ErrorRate: it.verdict.ErrorRate, Reasons: it.verdict.Reasons, Quarantine: it.verdict.Unhealthy}
		if it.voted {
			o.Alert = hasAlert(alerts, it.v.ID)
			q, err := m.decide(ctx, eng, it.v.ID, now)
			if err != nil {
				// The report is stored; the next report or a steward's
				// confirmation decides again. A failed decision never
				// suspends.
				m.log().Error("host health quorum undecided", "plugin", it.v.PluginID, "version", it.v.Version, "err", err)
			} else {
				o.Hosts, o.RequiredHosts = len(q.Hosts), q.RequiredHosts
				if q.Suspend {
					if o.Suspended, err = m.suspend(ctx, it.v, host, q, it.remedy, now); err != nil {
						return out, err
					}
				}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// Confirmation is what a steward's confirmation led to.
type Confirmation struct {
	Version   domain.Version
	Decision  policy.QuorumDecision
	Suspended bool
}

// Confirm records a steward's confirmation of hosts' failing reports of a
// certified version (with its audit event) and suspends the version when
// the policy's quorum counts it.
func (m *Monitor) Confirm(ctx context.Context, versionID, steward, reason string) (Confirmation, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 4096 {
		return Confirmation{}, fmt.Errorf("a confirmation needs a reason of 1 to 4096 bytes, which the publisher reads: %w", domain.ErrInvalid)
	}
	now := m.Now()
	v, err := m.Store.GetVersion(ctx, versionID)
	if err != nil {
		return Confirmation{}, fmt.Errorf("reading version %s: %w", versionID, err)
	}
	if v.State != lifecycle.Certified {
		return Confirmation{Version: v}, fmt.Errorf("%s@%s is %s: %w", v.PluginID, v.Version, v.State, ErrNotCertified)
	}
	eng := m.Policy()
	settings, err := eng.QuorumSettings(ctx)
	if err != nil {
		return Confirmation{}, fmt.Errorf("reading the policy's health quorum: %w", err)
	}
	standing, err := m.Store.ListHealthVotes(ctx, v.ID, now.Add(-settings.Window()), policy.MaxQuorumVotes)
	if err != nil {
		return Confirmation{}, fmt.Errorf("reading the health votes on %s@%s: %w", v.PluginID, v.Version, err)
	}
	hosts := hostsOf(standing)
	if len(hosts) == 0 {
		return Confirmation{Version: v}, fmt.Errorf("%s@%s: %w (%d hours); to suspend it anyway, use suspend", v.PluginID, v.Version, ErrNoReports, settings.WindowHours)
	}
	data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "version": v.Version, "hosts": hosts})
	ev := audit.Event{Time: now, Actor: steward, Action: audit.HealthConfirmed, Subject: "submission:" + v.ID, Reason: reason, Data: data}
	vote := domain.HealthVote{VersionID: v.ID, Voter: steward, Kind: policy.VoteSteward, FirstAt: now, LastAt: now, Reports: 1, Reason: reason}
	if err := m.Store.RecordHealthReports(ctx, nil, []domain.HealthVote{vote}, []audit.Event{ev}); err != nil {
		return Confirmation{}, fmt.Errorf("recording the confirmation of %s@%s: %w", v.PluginID, v.Version, err)
	}
	q, err := m.decide(ctx, eng, v.ID, now)
	if err != nil {
		return Confirmation{Version: v}, fmt.Errorf("deciding the health quorum of %s@%s: %w", v.PluginID, v.Version, err)
	}
	c := Confirmation{Version: v, Decision: q}
	if q.Suspend {
		_, remedy := m.thresholds(ctx, eng, v.ID)
		if c.Suspended, err = m.suspend(ctx, v, steward, q, remedy, now); err != nil {
			return c, err
		}
		if got, err := m.Store.GetVersion(ctx, v.ID); err == nil {
			c.Version = got
		}
	}
	return c, nil
}

// decide asks the policy whether the votes standing against a version
// reach the quorum.
func (m *Monitor) decide(ctx context.Context, eng *policy.Engine, versionID string, now time.Time) (policy.QuorumDecision, error) {
	// Read as far back as any policy may look; the policy applies its own
	// window to the votes' ages.
	vs, err := m.Store.ListHealthVotes(ctx, versionID, now.Add(-policy.MaxQuorumWindow), policy.MaxQuorumVotes)
	if err != nil {
		return policy.QuorumDecision{}, fmt.Errorf("reading the health votes on %s: %w", versionID, err)
	}
	in := policy.QuorumInput{Votes: make([]policy.QuorumVote, 0, len(vs))}
	for _, v := range vs {
		age := int64(now.Sub(v.LastAt) / time.Second)
		in.Votes = append(in.Votes, policy.QuorumVote{Voter: v.Voter, Kind: v.Kind, AgeSeconds: max(age, 0)})
	}
	return eng.HealthQuorum(ctx, in)
}

// suspend suspends the version through the one suspension path, with the
// quorum's audit event naming the hosts in the same transaction. It
// reports false when the version was no longer certified (another report
// completed the quorum first).
func (m *Monitor) suspend(ctx context.Context, v domain.Version, actor string, q policy.QuorumDecision, remedyDays int, now time.Time) (bool, error) {
	if m.Suspender == nil {
		return false, errors.New("the health quorum is reached but this server has no certifier to suspend with")
	}
	reason := truncate(fmt.Sprintf("host health quorum: %s (hosts %s", q.Reason, strings.Join(q.Hosts, ", ")), 3900)
	if len(q.Stewards) > 0 {
		reason += truncate("; confirmed by "+strings.Join(q.Stewards, ", "), 190)
	}
	reason += ")"
	data, _ := json.Marshal(map[string]any{"plugin": v.PluginID, "version": v.Version, "hosts": q.Hosts, "stewards": q.Stewards,
		"requiredHosts": q.RequiredHosts, "requiredStewards": q.RequiredStewards, "windowHours": q.WindowHours, "reason": q.Reason})
	ev := audit.Event{Time: now, Actor: actor, Action: audit.HealthQuorum, Subject: "submission:" + v.ID, Reason: reason, Data: data}
	deadline := now.Add(time.Duration(remedyDays) * 24 * time.Hour)
	if err := m.Suspender.SuspendAudited(ctx, v.ID, actor, reason, deadline, []audit.Event{ev}); err != nil {
		if cur, gerr := m.Store.GetVersion(ctx, v.ID); gerr == nil && cur.State != lifecycle.Certified {
			return false, nil
		}
		return false, fmt.Errorf("suspending %s@%s on the health quorum: %w", v.PluginID, v.Version, err)
	}
	m.log().Warn("host health quorum suspended a version", "plugin", v.PluginID, "version", v.Version, "hosts", q.Hosts, "stewards", q.Stewards)
	return true, nil
}

func hasVote(vs []domain.HealthVote, kind, voter string) bool {
	for _, v := range vs {
		if v.Kind == kind && v.Voter == voter {
			return true
		}
	}
	return false
}

func hostsOf(vs []domain.HealthVote) []string {
	var out []string
	for _, v := range vs {
		if v.Kind == policy.VoteHost {
			out = append(out, v.Voter)
		}
	}
	sort.Strings(out)
	return out
}

func countHosts(vs []domain.HealthVote) int { return len(hostsOf(vs)) }

func hasAlert(evs []audit.Event, versionID string) bool {
	for _, e := range evs {
		if e.Subject == "submission:"+versionID {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// thresholds re-decides the version's stored triage input under the
// active policy, so its tier's thresholds and remediation time apply.
func (m *Monitor) thresholds(ctx context.Context, eng *policy.Engine, versionID string) (policy.HostHealth, int) {
	const fallbackRemedy = 14
	vd, err := m.Store.LatestVerdict(ctx, versionID)
	if err != nil {
		return Fallback, fallbackRemedy
	}
	var tv triage.Verdict
	if err := json.Unmarshal(vd.Body, &tv); err != nil {
		return Fallback, fallbackRemedy
	}
	d, err := eng.Decide(ctx, tv.Input)
	if err != nil {
		m.log().Warn("host health thresholds fall back to the defaults", "version", versionID, "err", err)
		return Fallback, fallbackRemedy
	}
	return d.HostHealth, d.RemediationDays
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
