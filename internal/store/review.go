package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
)

// Reviews keeps triage verdicts, the review queue, approvals and the review
// threads. A version's verdicts (one per triage) are kept; a review item is
// open while the version is in review (the store closes it when the
// version leaves in_review).
//
// Each write records its audit events in the same transaction.
type Reviews interface {
	SaveVerdict(ctx context.Context, v Verdict, ev audit.Event) (Verdict, error)
	LatestVerdict(ctx context.Context, versionID string) (Verdict, error)
	OpenReview(ctx context.Context, item ReviewItem, ev audit.Event) error
	GetReview(ctx context.Context, versionID string) (ReviewItem, error)
	// ListReviews pages the open queue: earliest deadline first, then the
	// highest weight.
	ListReviews(ctx context.Context, q ReviewQuery) ([]ReviewItem, error)
	// ClaimReview gives reviewer the item until until; ErrConflict when
	// another reviewer holds an unexpired claim.
	ClaimReview(ctx context.Context, versionID, reviewer string, now, until time.Time, ev audit.Event) (ReviewItem, error)
	// AddApproval records one reviewer's approval (ErrConflict when that
	// reviewer approved already) and returns how many distinct reviewers
	// have approved.
	AddApproval(ctx context.Context, a Approval, ev audit.Event) (int, error)
	ListApprovals(ctx context.Context, versionID string) ([]Approval, error)
	// EscalateOverdue marks open items past their deadline (once each)
	// with an audit event per item, and returns them.
	EscalateOverdue(ctx context.Context, now time.Time) ([]ReviewItem, error)
	// AddMessage appends to a plugin's review thread.
	AddMessage(ctx context.Context, m Message, ev audit.Event) (Message, error)
	ListMessages(ctx context.Context, pluginID string) ([]Message, error)
}
