package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
)

// reviewErr classifies the review service's refusals.
func reviewErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, review.ErrForbidden):
		return Wrap(KindForbidden, err)
	case errors.Is(err, domain.ErrInvalid):
		return Wrap(KindInvalid, err)
	case errors.Is(err, review.ErrState), errors.Is(err, domain.ErrStateChanged), errors.Is(err, domain.ErrConflict):
		return Wrap(KindConflict, err)
	case errors.Is(err, domain.ErrNotFound):
		return Wrap(KindNotFound, err)
	}
	return err
}

// mayReview refuses callers whose role does not review.
func mayReview(caller domain.Principal) error {
	if !caller.Allowed(reviewers...) {
		return Errorf(KindForbidden, "role %s may not review", caller.Role)
	}
	return nil
}

// QueueEntry is one open review with its version and approvals so far.
type QueueEntry struct {
	Item      domain.ReviewItem
	Version   domain.Version
	Approvals []domain.Approval
}

// Page selects part of a list.
type Page struct {
	Limit  int // 1..500; 0 means 50
	Offset int
}

// Queue pages the open review queue: earliest deadline first, then the
// highest risk weight.
func (a *App) Queue(ctx context.Context, caller domain.Principal, pg Page) ([]QueueEntry, error) {
	if err := mayReview(caller); err != nil {
		return nil, err
	}
	items, err := a.cfg.Store.ListReviews(ctx, domain.ReviewQuery{Limit: pg.Limit, Offset: pg.Offset})
	if err != nil {
		return nil, err
	}
	out := make([]QueueEntry, 0, len(items))
	for _, it := range items {
		e := QueueEntry{Item: it}
		if e.Version, err = a.cfg.Store.GetVersion(ctx, it.VersionID); err != nil {
			return nil, err
		}
		if e.Approvals, err = a.cfg.Store.ListApprovals(ctx, it.VersionID); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// QueueStats describes the open review queue and the vetting backlog.
func (a *App) QueueStats(ctx context.Context, caller domain.Principal) (domain.QueueStats, error) {
	if err := mayReview(caller); err != nil {
		return domain.QueueStats{}, err
	}
	return a.cfg.Store.QueueStats(ctx, a.cfg.Now())
}

// MaxCodeDiff bounds the diff text one review carries.
const MaxCodeDiff = 1 << 20

// Review is everything a reviewer decides on.
type Review struct {
	Item      domain.ReviewItem
	Version   domain.Version
	Approvals []domain.Approval
	// Vetting is nil before the first run.
	Vetting *Vetting
	// Verdict is nil before triage.
	Verdict *Verdict
	// Previous is the last approved version, compared with; nil for a
	// first version. CodeDiff holds the files that differ from it.
	Previous *domain.Version
	CodeDiff []review.FileChange
	Thread   []domain.Message
}

// Review returns the review of submission id.
func (a *App) Review(ctx context.Context, caller domain.Principal, id string) (Review, error) {
	if err := mayReview(caller); err != nil {
		return Review{}, err
	}
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return Review{}, err
	}
	out := Review{Version: v}
	out.Item, err = a.cfg.Store.GetReview(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return out, &Error{Kind: KindNotFound, Code: KindNotFound.Code(), Msg: "submission " + id + " has not been sent to review", Err: err}
	}
	if err != nil {
		return out, err
	}
	if out.Approvals, err = a.cfg.Store.ListApprovals(ctx, id); err != nil {
		return out, err
	}
	if out.Vetting, err = a.vetting(ctx, v); err != nil {
		return out, err
	}
	if out.Verdict, err = a.verdict(ctx, id); err != nil {
		return out, err
	}
	if a.cfg.Intake == nil {
		return out, unavailable("review")
	}
	if out.Previous, err = a.cfg.Intake.PreviousApproved(ctx, v.PluginID, v.Version); err != nil {
		return out, err
	}
	if out.Previous != nil {
		prev, err := a.cfg.Intake.LoadPackage(ctx, out.Previous.Digest)
		if err != nil {
			return out, fmt.Errorf("loading %s@%s: %w", out.Previous.PluginID, out.Previous.Version, err)
		}
		cur, err := a.cfg.Intake.LoadPackage(ctx, v.Digest)
		if err != nil {
			return out, fmt.Errorf("loading %s@%s: %w", v.PluginID, v.Version, err)
		}
		out.CodeDiff = review.CodeDiff(prev, cur, MaxCodeDiff)
	}
	out.Thread, err = a.cfg.Store.ListMessages(ctx, v.PluginID)
	return out, err
}

// Decision is a reviewer's action on a version in review.
type Decision struct {
	// Action is claim, approve, reject or request-changes.
	Action string
	// Granted narrows the permissions an approval grants; nil grants what
	// the manifest asks for.
	Granted []string
	// RefusedFlows are the data flows an approval refuses.
	RefusedFlows []string
	// Code is a rejection's reason code (review.RejectCodes).
	Code    string
	Message string
}

// MaxRefusedFlows bounds the flows one approval may refuse (a certificate
// lists at most as many).
const MaxRefusedFlows = 1024

// Decided is what a decision did.
type Decided struct {
	// State is the version's state after an approval, a rejection or a
	// request for changes.
	State lifecycle.State
	// ClaimUntil is when a claim runs out.
	ClaimUntil time.Time
}

// Decide claims, approves, rejects or requests changes to submission id.
// Nobody reviews a plugin of a namespace they publish in, nor one they
// submitted, nor one another reviewer holds the claim on (KindForbidden);
// a high tier needs two different approvers.
func (a *App) Decide(ctx context.Context, caller domain.Principal, id string, d Decision) (Decided, error) {
	if err := mayReview(caller); err != nil {
		return Decided{}, err
	}
	switch d.Action {
	case "claim", "approve", "reject", "request-changes":
	default:
		return Decided{}, Errorf(KindNotFound, "no review action %q: claim, approve, reject or request-changes", d.Action)
	}
	rv := a.cfg.Review
	if rv == nil {
		return Decided{}, unavailable("review")
	}
	if _, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord); err != nil {
		return Decided{}, err
	}
	var (
		out Decided
		err error
	)
	switch d.Action {
	case "claim":
		var it domain.ReviewItem
		if it, err = rv.Claim(ctx, caller, id); err == nil {
			out.ClaimUntil = it.ClaimUntil
		}
	case "approve":
		if len(d.RefusedFlows) > MaxRefusedFlows {
			return Decided{}, Errorf(KindInvalid, "%d refused flows; a version has at most %d", len(d.RefusedFlows), MaxRefusedFlows)
		}
		out.State, err = rv.ApproveFlows(ctx, caller, id, d.Granted, d.RefusedFlows, d.Message)
	case "reject":
		err = rv.Reject(ctx, caller, id, d.Code, d.Message)
		out.State = lifecycle.Rejected
	case "request-changes":
		err = rv.RequestChanges(ctx, caller, id, d.Message)
		out.State = lifecycle.ChangesRequested
	}
	return out, reviewErr(err)
}

// Comment writes in the review thread of submission id's plugin: a
// reviewer's note, or its publisher's answer.
func (a *App) Comment(ctx context.Context, caller domain.Principal, id, msg string) (domain.Message, error) {
	if a.cfg.Review == nil {
		return domain.Message{}, unavailable("review")
	}
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return domain.Message{}, err
	}
	m, err := a.cfg.Review.Comment(ctx, caller, v.ID, msg)
	return m, reviewErr(err)
}

// Appeal reopens the review of rejected submission id with its
// publisher's case.
func (a *App) Appeal(ctx context.Context, caller domain.Principal, id, msg string) error {
	if !caller.Allowed(domain.RolePublisher) {
		return Errorf(KindForbidden, "role %s may not appeal: the plugin's publisher does", caller.Role)
	}
	if a.cfg.Review == nil {
		return unavailable("review")
	}
	v, err := a.Version(ctx, caller, VersionRef{ID: id}, ReadRecord)
	if err != nil {
		return err
	}
	return reviewErr(a.cfg.Review.Appeal(ctx, caller, v.ID, msg))
}
