package store

import (
	"context"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// AuditTrail is the hash-chained record of every change. Most events are
// written by the change they record (every interface here takes them);
// AppendAudit is for events that go with no other write.
//
// Writers are serialised, so the chain stays linear however many requests
// write at once.
type AuditTrail interface {
	// AppendAudit records an event that goes with no other write (a failed
	// sign-in, an export).
	AppendAudit(ctx context.Context, ev audit.Event) error
	// ScanAudit calls fn for each event in Seq order.
	ScanAudit(ctx context.Context, q domain.AuditQuery, fn func(audit.Event) error) error
}
