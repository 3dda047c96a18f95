package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// TestUndeclaredActionRefused: the store refuses an event whose action
// internal/audit's catalogue does not declare, appended alone or with the
// change it records, and the change does not happen. The check is in the
// SQL code both dialects share.
func TestUndeclaredActionRefused(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	ev := audit.Event{Time: time.Now(), Actor: "alice", Action: "namespace.create", Subject: "namespace:acme"}

	err := s.AppendAudit(ctx, ev)
	if !errors.Is(err, audit.ErrUndeclared) || !strings.Contains(err.Error(), `"namespace.create" is not declared`) {
		t.Errorf("AppendAudit(undeclared action) = %v, want an error naming the action and wrapping audit.ErrUndeclared", err)
	}
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: time.Now()}, ev); !errors.Is(err, audit.ErrUndeclared) {
		t.Errorf("CreateNamespace with an undeclared action = %v, want audit.ErrUndeclared", err)
	}
	if _, err := s.GetNamespace(ctx, "acme"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the namespace of a refused event was created: %v", err)
	}

	ev.Action = audit.NamespaceClaim
	if err := s.CreateNamespace(ctx, domain.Namespace{Name: "acme", Owners: []string{"alice"}, CreatedAt: time.Now()}, ev); err != nil {
		t.Errorf("CreateNamespace with a declared action: %v", err)
	}
}
