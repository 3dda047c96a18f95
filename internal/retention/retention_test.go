package retention

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The periodic job, run through River, pseudonymises the old events'
// actors, leaves recent ones, records itself, keeps the chain verifiable,
// and a second run changes nothing.
func TestPurgeJobPseudonymisesOldSubjects(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	old := audit.Event{Time: c.Now(), Actor: "alice@example.com", Action: audit.IncidentNote, Subject: "token:tok-1"}
	if err := st.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.add(60 * 24 * time.Hour)
	recent := audit.Event{Time: c.Now(), Actor: "bob@example.com", Action: audit.IncidentNote, Subject: "token:tok-2"}
	if err := st.AppendAudit(ctx, recent); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, AuditSubjects: 30 * 24 * time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Queue().Insert(ctx, purgeJob{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Queue().RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	rep, err := audit.VerifyAll(func(fn func(audit.Event) error) error {
		return st.ScanAudit(ctx, domain.AuditQuery{}, func(e audit.Event) error { evs = append(evs, e); return fn(e) })
	})
	if err != nil || rep.Break != nil {
		t.Fatalf("the trail does not verify after the purge: %v %v", err, rep.Break)
	}
	if len(evs) != 3 || strings.Contains(evs[0].Actor+evs[0].Subject, "alice") || strings.Contains(evs[0].Subject, "tok-1") {
		t.Fatalf("old event not pseudonymised: %+v", evs)
	}
	if evs[1].Actor != "bob@example.com" || evs[1].Subject != "token:tok-2" {
		t.Fatalf("recent event changed: %+v", evs[1])
	}
	if evs[2].Action != audit.AuditPseudonymise {
		t.Fatalf("no purge event: %+v", evs[2])
	}
	res, err := s.Purge(ctx)
	if err != nil || res.Pseudonymised != 0 {
		t.Fatalf("second purge = %+v, %v; want nothing", res, err)
	}
}

func TestRetentionOutsideLimitsRefused(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []time.Duration{time.Hour, 11 * 365 * 24 * time.Hour, -time.Hour} {
		if _, err := New(Config{Store: st, AuditSubjects: d}); err == nil || !strings.Contains(err.Error(), "between 30 and 3650") {
			t.Errorf("%s: err = %v", d, err)
		}
	}
}
