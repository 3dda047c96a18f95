package review

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/trust"
)

// auditReader reads the audit trail.
type auditReader interface {
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
}

// namespaceChanges reads from the namespace's audit trail how many days ago
// its ownership and its publisher keys last changed (nil when never), so
// that the policy sends the next versions after a takeover-shaped change to
// people. The namespace's first key is its baseline, not a change; every key
// added after it is one, and so is every key removed or reported
// compromised.
func namespaceChanges(ctx context.Context, st auditReader, ns string, now time.Time) (owner, key *int, err error) {
	var ownerAt, keyAt time.Time
	firstKey := true
	err = st.ScanAudit(ctx, domain.AuditQuery{Subject: "namespace:" + ns}, func(e audit.Event) error {
		switch {
		case e.Action == string(trust.EventNamespaceOwner) || strings.HasPrefix(e.Action, "namespace.owner"):
			ownerAt = e.Time
		case e.Action == audit.PublisherKeyAdded || e.Action == "namespace.key-added":
			if firstKey {
				firstKey = false
				return nil
			}
			keyAt = e.Time
		case e.Action == audit.PublisherKeyRemoved || e.Action == audit.PublisherKeyCompromised:
			// A key taken away changes who may sign as much as one added.
			keyAt = e.Time
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the history of namespace %s: %w", ns, err)
	}
	return daysAgo(ownerAt, now), daysAgo(keyAt, now), nil
}

func daysAgo(t, now time.Time) *int {
	if t.IsZero() {
		return nil
	}
	d := max(0, int(now.Sub(t).Hours()/24))
	return &d
}

// hostErrorWindow is how far back hosts' health reports count towards a
// new version's risk.
const hostErrorWindow = 30 * 24 * time.Hour

// healthHistory reads a plugin's versions and what hosts reported of them.
type healthHistory interface {
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	ListHealthReports(ctx context.Context, versionID string, since time.Time, limit int) ([]domain.HealthReport, error)
}

// hostErrorRate is the share of calls that failed in hosts running the
// plugin's earlier versions over the last hostErrorWindow, from 0 to 1.
func hostErrorRate(ctx context.Context, st healthHistory, v domain.Version, now time.Time) (float64, error) {
	vs, err := st.ListVersions(ctx, v.PluginID)
	if err != nil {
		return 0, err
	}
	var calls, errs int64
	for _, x := range vs {
		if x.ID == v.ID {
			continue
		}
		rs, err := st.ListHealthReports(ctx, x.ID, now.Add(-hostErrorWindow), 0)
		if err != nil {
			return 0, fmt.Errorf("reading host health of %s@%s: %w", x.PluginID, x.Version, err)
		}
		for _, r := range rs {
			calls += r.Calls
			errs += r.ErrorCount()
		}
	}
	if calls == 0 {
		return 0, nil
	}
	return min(1, float64(errs)/float64(calls)), nil
}
