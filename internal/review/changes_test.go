package review

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// trailOf is an audit trail in memory.
type trailOf []audit.Event

func (t trailOf) ScanAudit(_ context.Context, _ domain.AuditQuery, fn func(audit.Event) error) error {
	for _, e := range t {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// TestNamespaceChangesSeeKeyAndOwnerChanges: the policy's
// publisher.key_changed_days_ago and ownership_changed_days_ago count
// every takeover-shaped change: a key added after the first, a key
// removed or reported compromised, an ownership transfer.
func TestNamespaceChangesSeeKeyAndOwnerChanges(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }
	ev := func(action string, days int) audit.Event {
		return audit.Event{Time: ago(days), Action: action, Subject: "namespace:acme"}
	}
	for _, tc := range []struct {
		name       string
		trail      trailOf
		owner, key int // -1: never
	}{
		{"the first key is the baseline", trailOf{ev(audit.PublisherKeyAdded, 90)}, -1, -1},
		{"a second key", trailOf{ev(audit.PublisherKeyAdded, 90), ev(audit.PublisherKeyAdded, 3)}, -1, 3},
		{"a key removed", trailOf{ev(audit.PublisherKeyAdded, 90), ev(audit.PublisherKeyRemoved, 5)}, -1, 5},
		{"a key reported compromised", trailOf{ev(audit.PublisherKeyAdded, 90), ev(audit.PublisherKeyCompromised, 1)}, -1, 1},
		{"an ownership transfer", trailOf{ev(audit.PublisherKeyAdded, 90), ev(audit.NamespaceOwnerTransfer, 2)}, 2, -1},
	} {
		owner, key, err := namespaceChanges(context.Background(), tc.trail, "acme", now)
		if err != nil {
			t.Fatal(err)
		}
		got := func(p *int) int {
			if p == nil {
				return -1
			}
			return *p
		}
		if got(owner) != tc.owner || got(key) != tc.key {
			t.Errorf("%s: owner %d, key %d days ago; want %d, %d", tc.name, got(owner), got(key), tc.owner, tc.key)
		}
	}
}
