package store

import (
	"context"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
)

// Reviews keeps triage verdicts, the review queue, approvals and the review
// threads. A version's verdicts (one per triage) are kept; a review item is
// open while the version is in review (the store closes it when the
// version leaves in_review).
//
// Each write records its audit events in the same transaction.
type Reviews interface {
	SaveVerdict(ctx context.Context, v domain.Verdict, ev audit.Event) (domain.Verdict, error)
	LatestVerdict(ctx context.Context, versionID string) (domain.Verdict, error)
	OpenReview(ctx context.Context, item domain.ReviewItem, ev audit.Event) error
	GetReview(ctx context.Context, versionID string) (domain.ReviewItem, error)
	// ListReviews pages the open queue: earliest deadline first, then the
	// highest weight.
	ListReviews(ctx context.Context, q domain.ReviewQuery) ([]domain.ReviewItem, error)
	// ClaimReview gives reviewer the item until until; ErrConflict when
	// another reviewer holds an unexpired claim.
	ClaimReview(ctx context.Context, versionID, reviewer string, now, until time.Time, ev audit.Event) (domain.ReviewItem, error)
	// AddApproval records one reviewer's approval (ErrConflict when that
	// reviewer approved already) and returns how many distinct reviewers
	// have approved.
	AddApproval(ctx context.Context, a domain.Approval, ev audit.Event) (int, error)
	ListApprovals(ctx context.Context, versionID string) ([]domain.Approval, error)
	// EscalateOverdue marks open items past their deadline (once each)
	// with an audit event per item, and returns them.
	EscalateOverdue(ctx context.Context, now time.Time) ([]domain.ReviewItem, error)
	// AddMessage appends to a plugin's review thread.
	AddMessage(ctx context.Context, m domain.Message, ev audit.Event) (domain.Message, error)
	ListMessages(ctx context.Context, pluginID string) ([]domain.Message, error)
}
