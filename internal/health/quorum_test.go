package health

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
)

// memRecords keeps the records the monitor needs in memory, with votes
// keyed as the store keys them (version, kind, voter).
type memRecords struct {
	mu      sync.Mutex
	v       domain.Version
	reports []domain.HealthReport
	votes   map[string]domain.HealthVote
	events  []audit.Event
}

func (m *memRecords) GetVersion(_ context.Context, id string) (domain.Version, error) {
	if id != m.v.ID {
		return domain.Version{}, domain.ErrNotFound
	}
	return m.v, nil
}
func (m *memRecords) GetVersionByName(_ context.Context, plugin, version string) (domain.Version, error) {
	if plugin != m.v.PluginID || version != m.v.Version {
		return domain.Version{}, domain.ErrNotFound
	}
	return m.v, nil
}
func (m *memRecords) ListHealthReports(_ context.Context, id string, since time.Time, _ int) ([]domain.HealthReport, error) {
	var out []domain.HealthReport
	for _, r := range m.reports {
		if r.VersionID == id && !r.ReceivedAt.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}
func (m *memRecords) RecordHealthReports(_ context.Context, rs []domain.HealthReport, vs []domain.HealthVote, evs []audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports = append(m.reports, rs...)
	for _, v := range vs {
		k := v.VersionID + "|" + v.Kind + "|" + v.Voter
		if old, ok := m.votes[k]; ok {
			v.FirstAt, v.Reports = old.FirstAt, old.Reports+v.Reports
		}
		m.votes[k] = v
	}
	m.events = append(m.events, evs...)
	return nil
}
func (m *memRecords) ListHealthVotes(_ context.Context, id string, since time.Time, _ int) ([]domain.HealthVote, error) {
	var out []domain.HealthVote
	for _, v := range m.votes {
		if v.VersionID == id && !v.LastAt.Before(since) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastAt.After(out[j].LastAt) })
	return out, nil
}
func (m *memRecords) LatestVerdict(context.Context, string) (domain.Verdict, error) {
	return domain.Verdict{}, domain.ErrNotFound
}

// memSuspender suspends the version in memRecords, recording the extra
// events with the suspension, as certify.Service does in one transaction.
type memSuspender struct{ r *memRecords }

func (s memSuspender) SuspendAudited(_ context.Context, id, actor, reason string, _ time.Time, extra []audit.Event) error {
	if s.r.v.State != lifecycle.Certified {
		return errors.New("wrong state")
	}
	s.r.v.State, s.r.v.Reason = lifecycle.Suspended, reason
	s.r.events = append(s.r.events, audit.Event{Actor: actor, Action: audit.VersionSuspended, Subject: "submission:" + id, Reason: reason})
	s.r.events = append(s.r.events, extra...)
	return nil
}

type quorumWorld struct {
	t   *testing.T
	rec *memRecords
	mon *Monitor
	now time.Time
}

func newQuorumWorld(t *testing.T) *quorumWorld {
	t.Helper()
	eng, err := policy.Compile(context.Background(), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	w := &quorumWorld{t: t, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	w.rec = &memRecords{v: domain.Version{ID: "sub_1", PluginID: "acme/hello", Version: "1.0.0", State: lifecycle.Certified}, votes: map[string]domain.HealthVote{}}
	w.mon = &Monitor{Store: w.rec, Policy: func() *policy.Engine { return eng }, Suspender: memSuspender{w.rec}, Now: func() time.Time { return w.now }}
	return w
}

// fail sends a failing report from host over the last hour.
func (w *quorumWorld) fail(host string) Outcome {
	w.t.Helper()
	w.now = w.now.Add(time.Hour)
	out, err := w.mon.Receive(context.Background(), host, Report{WindowStart: w.now.Add(-time.Hour), WindowEnd: w.now,
		Plugins: []PluginHealth{{Plugin: "acme/hello", Version: "1.0.0", Calls: 1000, Errors: map[string]int64{"trap": 500}}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return out[0]
}

func (w *quorumWorld) count(action string) int {
	n := 0
	for _, e := range w.rec.events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestQuorumOfHostsSuspends: two failing hosts quarantine the version
// locally and suspend nothing; the third distinct host suspends it, with a
// health.quorum event naming all three.
func TestQuorumOfHostsSuspends(t *testing.T) {
	w := newQuorumWorld(t)
	for i, h := range []string{"host-a", "host-b"} {
		if o := w.fail(h); !o.Quarantine || o.Suspended || o.Hosts != i+1 || o.RequiredHosts != 3 {
			t.Fatalf("%s: %+v; want a local quarantine, %d of 3 hosts, no suspension", h, o, i+1)
		}
	}
	if w.rec.v.State != lifecycle.Certified {
		t.Fatalf("below the quorum the version is %s", w.rec.v.State)
	}
	if o := w.fail("host-c"); !o.Suspended || o.Hosts != 3 {
		t.Fatalf("host-c: %+v; want the quorum reached", o)
	}
	if w.rec.v.State != lifecycle.Suspended || w.count(audit.VersionSuspended) != 1 {
		t.Fatalf("after the quorum: %s, %d suspensions", w.rec.v.State, w.count(audit.VersionSuspended))
	}
	var q audit.Event
	for _, e := range w.rec.events {
		if e.Action == audit.HealthQuorum {
			q = e
		}
	}
	if !strings.Contains(string(q.Data), `"hosts":["host-a","host-b","host-c"]`) || q.Actor != "host-c" {
		t.Fatalf("health.quorum event %+v; want it to name the three hosts, by the host that completed the quorum", q)
	}
	if w.count(audit.HealthAlert) != 3 {
		t.Fatalf("%d alerts; want one per host", w.count(audit.HealthAlert))
	}
}

// TestRepeatedReportsFromOneHostCountOnce: a host that reports failing
// fifty times has one vote, raises one alert and suspends nothing; votes
// older than the policy's window do not count.
func TestRepeatedReportsFromOneHostCountOnce(t *testing.T) {
	w := newQuorumWorld(t)
	for range 50 {
		if o := w.fail("host-hostile"); o.Suspended || o.Hosts != 1 {
			t.Fatalf("repeat report: %+v; want one host, no suspension", o)
		}
	}
	if w.rec.v.State != lifecycle.Certified || w.count(audit.HealthAlert) != 1 {
		t.Fatalf("after 50 reports from one host: %s, %d alerts; want certified, 1 alert", w.rec.v.State, w.count(audit.HealthAlert))
	}
	// host-old's vote ages out of the 24-hour window before two more hosts come.
	w.fail("host-old")
	w.now = w.now.Add(25 * time.Hour)
	w.fail("host-b")
	if o := w.fail("host-hostile"); o.Suspended || o.Hosts != 2 {
		t.Fatalf("with host-old's vote out of the window: %+v; want 2 hosts, no suspension", o)
	}
}

// TestStewardConfirmationSuspends: a steward's confirmation of one host's
// report suspends at once; a confirmation without any report in the window
// is refused with the fix, and so is one of a version no longer certified.
func TestStewardConfirmationSuspends(t *testing.T) {
	w := newQuorumWorld(t)
	ctx := context.Background()
	if _, err := w.mon.Confirm(ctx, "sub_1", "sam", "seen it fail"); !errors.Is(err, ErrNoReports) || !strings.Contains(err.Error(), "use suspend") {
		t.Fatalf("confirming with no reports: %v; want ErrNoReports naming the fix", err)
	}
	if _, err := w.mon.Confirm(ctx, "sub_1", "sam", " "); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("confirming without a reason: %v; want ErrInvalid", err)
	}
	w.fail("host-a")
	c, err := w.mon.Confirm(ctx, "sub_1", "sam", "reproduced the crash")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Suspended || w.rec.v.State != lifecycle.Suspended || len(c.Decision.Stewards) != 1 || c.Decision.Hosts[0] != "host-a" {
		t.Fatalf("confirmation: %+v, state %s; want suspended at once naming host-a and sam", c, w.rec.v.State)
	}
	if w.count(audit.HealthConfirmed) != 1 || w.count(audit.HealthQuorum) != 1 {
		t.Fatalf("%d confirmations, %d quorum events; want 1 each", w.count(audit.HealthConfirmed), w.count(audit.HealthQuorum))
	}
	if _, err := w.mon.Confirm(ctx, "sub_1", "sam", "again"); !errors.Is(err, ErrNotCertified) {
		t.Fatalf("confirming a suspended version: %v; want ErrNotCertified", err)
	}
}

// TestHealthReportsAreRateLimitedPerHost: a host past its burst is refused
// with a wait and a message naming the limit; another host is not; the
// map of hosts is bounded.
func TestHealthReportsAreRateLimitedPerHost(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l, err := NewHostLimiter(6, 3, 2, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.Allow("host-a"); err != nil {
			t.Fatalf("report %d within the burst: %v", i, err)
		}
	}
	err = l.Allow("host-a")
	var lim *Limited
	if !errors.As(err, &lim) || lim.RetryAfter != 10*time.Second || !strings.Contains(lim.Msg, "6 health reports a minute") {
		t.Fatalf("past the burst: %v (%+v); want Limited, retry after 10s, naming the limit", err, lim)
	}
	if err := l.Allow("host-b"); err != nil {
		t.Fatalf("another host was limited: %v", err)
	}
	// The map holds 2 hosts, both mid-burst: a third is refused, not
	// allowed to evict a busy host's bucket.
	if err := l.Allow("host-c"); !errors.As(err, &lim) || !strings.Contains(lim.Msg, "2 hosts") {
		t.Fatalf("a third host with the map full: %v; want Limited naming the bound", err)
	}
	now = now.Add(time.Minute) // every bucket full again: swept
	if err := l.Allow("host-c"); err != nil || l.Tracked() > 2 {
		t.Fatalf("after the buckets refilled: %v, %d tracked", err, l.Tracked())
	}
	if _, err := NewHostLimiter(0, 1, 1, nil); err == nil {
		t.Fatal("a zero rate was accepted")
	}
}
