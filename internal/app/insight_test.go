package app

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
)

func TestDashboard(t *testing.T) {
	w := newWorld(t)
	w.received(t, "1.0.0")
	w.received(t, "1.1.0")
	q := DashboardQuery{Weeks: 4, ExpiringWithin: 14 * 24 * time.Hour, Hotspots: 5, Expiring: 5, ErrorRatesSince: 7 * 24 * time.Hour, ErrorRates: 5}
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		kind   Kind
	}{
		{"steward", steward, ok},
		{"auditor", auditor, ok},
		{"reviewer", reviewer, KindForbidden},
		{"publisher", pia, KindForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := w.app.Dashboard(context.Background(), tc.caller, q)
			wantKind(t, err, tc.kind, "")
			if err != nil {
				return
			}
			if len(d.Weeks) != 4 || !d.Weeks[3].Before(w.now) || d.Weeks[3].Add(7*24*time.Hour).Before(w.now) {
				t.Errorf("weeks = %v, want 4 ending with the one of %v", d.Weeks, w.now)
			}
			if d.States[lifecycle.Received] != 2 {
				t.Errorf("states = %v, want 2 received", d.States)
			}
			subs := 0
			for _, a := range d.Activity {
				subs += a.Submissions
			}
			if subs != 2 {
				t.Errorf("activity counts %d submissions, want 2", subs)
			}
		})
	}
}
