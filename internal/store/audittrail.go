package store

import (
	"context"
	"time"

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
	// PseudonymiseAudit replaces, in at most limit events older than
	// before, the actor and a subject naming a person
	// (audit.PersonalSubject) by their commitments, so the chain still
	// verifies, and records ev with the counts in the same transaction.
	// Events sealed without salts (hash version 1) are counted in
	// sealedBefore and left as they are. A run that finds nothing to change
	// records nothing, so a purge run twice changes nothing.
	PseudonymiseAudit(ctx context.Context, before time.Time, limit int, ev audit.Event) (changed, sealedBefore int, err error)
}
