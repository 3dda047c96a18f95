package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Policies keeps the triage policies applied over time and the switches
// that keep a plugin or a namespace out of auto-approval.
//
// Each write records its audit event in the same transaction.
type Policies interface {
	// ApplyPolicy makes p the active policy (recording it if new).
	ApplyPolicy(ctx context.Context, p domain.PolicyRecord, ev audit.Event) error
	// ActivePolicy returns ErrNotFound before any policy was applied.
	ActivePolicy(ctx context.Context) (domain.PolicyRecord, error)
	ListPolicies(ctx context.Context) ([]domain.PolicyRecord, error)

	// SetAutoApprovalOff turns auto-approval off (off=true) or back on for
	// a scope ("plugin:NS/NAME" or "namespace:NS").
	SetAutoApprovalOff(ctx context.Context, scope string, off bool, by, reason string, ev audit.Event) error
	// AutoApprovalOff reports which of the plugin's scopes are switched off.
	AutoApprovalOff(ctx context.Context, pluginID string) (plugin, namespace bool, err error)
}
