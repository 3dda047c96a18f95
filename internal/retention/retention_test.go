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
	// Alice's token was revoked long ago; Bob's is live.
	for _, tok := range []domain.Token{
		{ID: "tok-1", Subject: "alice@example.com", RevokedAt: c.Now()},
		{ID: "tok-2", Subject: "bob@example.com"},
	} {
		tok.Role, tok.Hash, tok.CreatedAt, tok.ExpiresAt = domain.RoleAuditor, make([]byte, 32), c.Now(), c.Now().Add(365*24*time.Hour)
		tok.Hash[0] = tok.ID[4]
		if err := st.CreateToken(ctx, tok, audit.Event{Time: c.Now(), Actor: "admin", Action: audit.TokenCreate, Subject: "token:" + tok.ID}); err != nil {
			t.Fatal(err)
		}
	}
	c.add(60 * 24 * time.Hour)
	recent := audit.Event{Time: c.Now(), Actor: "bob@example.com", Action: audit.IncidentNote, Subject: "token:tok-2"}
	if err := st.AppendAudit(ctx, recent); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, Retention: 30 * 24 * time.Hour, Now: c.Now})
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
	// old, two token creations, recent, the token purge, the pseudonymisation.
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6: %+v", len(evs), evs)
	}
	for _, e := range evs[:3] {
		if strings.Contains(e.Actor+e.Subject, "alice") || strings.Contains(e.Actor+e.Subject, "tok-") || e.Actor == "admin" {
			t.Errorf("old event %d not pseudonymised: %q %q", e.Seq, e.Actor, e.Subject)
		}
	}
	if evs[3].Actor != "bob@example.com" || evs[3].Subject != "token:tok-2" {
		t.Fatalf("recent event changed: %+v", evs[3])
	}
	if evs[4].Action != audit.TokenPurge || !strings.Contains(string(evs[4].Data), `"deleted":1`) || evs[5].Action != audit.AuditPseudonymise {
		t.Fatalf("purge events = %+v, %+v", evs[4], evs[5])
	}
	toks, err := st.ListTokens(ctx)
	if err != nil || len(toks) != 1 || toks[0].ID != "tok-2" || toks[0].Subject != "bob@example.com" {
		t.Fatalf("tokens after the purge = %+v, %v; want Bob's live token alone", toks, err)
	}
	res, err := s.Purge(ctx)
	if err != nil || res.Pseudonymised != 0 || res.TokensDeleted != 0 {
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
		if _, err := New(Config{Store: st, Retention: d}); err == nil || !strings.Contains(err.Error(), "between 30 and 3650") {
			t.Errorf("%s: err = %v", d, err)
		}
	}
}

func TestParseDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"400d", 400 * 24 * time.Hour, ""},
		{"30d", MinRetention, ""},
		{"3650d", MaxRetention, ""},
		{"29d", 0, "outside 30d..3650d"},
		{"3651d", 0, "outside 30d..3650d"},
		{"0d", 0, "outside 30d..3650d"},
		{"-400d", 0, "not a number of days"},
		{"+400d", 0, "not a number of days"},
		{"400", 0, "not a number of days"},
		{"9600h", 0, "not a number of days"},
		{"d", 0, "not a number of days"},
		{"", 0, "not a number of days"},
		{"99999999999999999999d", 0, "not a number of days"},
		{"1e3d", 0, "not a number of days"},
	} {
		got, err := ParseDays(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseDays(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "such as 400d") {
			t.Errorf("ParseDays(%q) error = %v; want one saying %q and the fix", tc.in, err, tc.err)
		}
	}
}

// FuzzParseDays: whatever an operator writes, an accepted retention is
// within the limits and a whole number of days.
func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"400d", "30d", "3650d", "29d", "-1d", "1e9d", "d", "00400d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDays(s)
		if err != nil {
			return
		}
		if d < MinRetention || d > MaxRetention || d%(24*time.Hour) != 0 {
			t.Fatalf("ParseDays(%q) = %s, outside the limits", s, d)
		}
	})
}

// TestAdopt: every process sharing a database purges on the retention
// the database records.
func TestAdopt(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		first  time.Duration // the first process's flag; -1: no first process
		given  time.Duration
		change bool
		want   time.Duration
		err    []string
	}{
		{"first start, no flag", -1, 0, false, DefaultRetention, nil},
		{"first start, a flag", -1, 90 * day, false, 90 * day, nil},
		{"same value", 90 * day, 90 * day, false, 90 * day, nil},
		{"no flag adopts the database's", 90 * day, 0, false, 90 * day, nil},
		{"another value refused", 90 * day, 30 * day, false, 0, []string{"--personal-data-retention 30d", "the 90d this database", "--personal-data-retention 90d or without the flag", "--change-personal-data-retention"}},
		{"another value changes it", 90 * day, 30 * day, true, 30 * day, nil},
		{"change without a value", 90 * day, 0, true, 0, []string{"needs --personal-data-retention"}},
		{"out of range", -1, day, false, 0, []string{"between 30 and 3650"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if tc.first >= 0 {
				if _, err := Adopt(ctx, st, tc.first, false, now); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Adopt(ctx, st, tc.given, tc.change, now)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("Adopt = %s; want a refusal", got)
				}
				for _, want := range tc.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Adopt = %s, %v; want %s", got, err, tc.want)
			}
			// The purge runs on the database's, whatever its own setting.
			s, err := New(Config{Store: st, Retention: MaxRetention, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Purge(ctx)
			if err != nil || !res.Before.Equal(now.Add(-tc.want)) {
				t.Fatalf("purge cut-off = %s, %v; want %s", res.Before, err, now.Add(-tc.want))
			}
		})
	}
}
