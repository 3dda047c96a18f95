package app

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

func TestAuditTrail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		caller domain.Principal
		kind   Kind
	}{
		{"auditor", auditor, ok},
		{"steward", steward, ok},
		{"admin", admin, ok},
		{"reviewer", reviewer, KindForbidden},
		{"publisher", pia, KindForbidden},
		{"anonymous", anonymous, KindUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := w.app.VerifyAudit(ctx, tc.caller)
			wantKind(t, err, tc.kind, "")
			if err == nil && (rep.Break != nil || rep.Count == 0) {
				t.Errorf("report = %+v, want an unbroken chain of the world's events", rep)
			}
			var n int
			err = w.app.ExportAudit(ctx, tc.caller, domain.AuditQuery{}, func(audit.Event) error { n++; return nil })
			wantKind(t, err, tc.kind, "")
			if err == nil && int64(n) != rep.Count {
				t.Errorf("exported %d events, verified %d", n, rep.Count)
			}
			evs, err := w.app.SearchAudit(ctx, tc.caller, domain.AuditFilter{Action: audit.NamespaceClaim, Limit: 10})
			wantKind(t, err, tc.kind, "")
			if err == nil && len(evs) != 1 {
				t.Errorf("search found %d namespace claims, want 1", len(evs))
			}
		})
	}
	// The export pages on until the events run out, and stops when the
	// caller's writer fails.
	var n int
	if err := w.app.ExportAuditSearch(ctx, auditor, domain.AuditFilter{}, func(audit.Event) error { n++; return nil }); err != nil || n == 0 {
		t.Errorf("ExportAuditSearch: %d events, %v", n, err)
	}
	if err := w.app.ExportAuditSearch(ctx, auditor, domain.AuditFilter{}, func(audit.Event) error { return errStop }); err != errStop {
		t.Errorf("ExportAuditSearch with a failing writer = %v, want errStop", err)
	}
}
