package review_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/review"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

// TestGivenUpVersionCanBeReviewed: a version the pipeline gave up on goes
// to review with its review opened, so reviewers see it in the queue and
// can decide; before, it reached in_review without one, where no reviewer
// could approve or reject it.
func TestGivenUpVersionCanBeReviewed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rv, err := review.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v := domain.Version{ID: "sub1", PluginID: "acme/hello", Version: "1.0.0", Digest: "sha256:" + strings.Repeat("b", 64), Size: 1,
		Manifest: []byte(`{"permissions":[]}`), Submitter: "alice", State: lifecycle.Received, Reason: "r", CreatedAt: now}
	if _, _, err := st.CreateVersion(ctx, v, []audit.Event{{Time: now, Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:sub1"}}); err != nil {
		t.Fatal(err)
	}
	if err := rv.Undecided(ctx, v, "vetting could not complete"); !errors.Is(err, review.ErrState) {
		t.Errorf("Undecided on a received version = %v, want ErrState", err)
	}
	for _, s := range [][2]lifecycle.State{{lifecycle.Received, lifecycle.Vetting}, {lifecycle.Vetting, lifecycle.Triage}} {
		if err := st.Transition(ctx, "sub1", s[0], s[1], "test", audit.Event{Time: now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:sub1"}); err != nil {
			t.Fatal(err)
		}
	}
	v.State = lifecycle.Triage
	if err := rv.Undecided(ctx, v, "vetting could not complete after 5 attempts"); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetVersion(ctx, "sub1")
	it, err := st.GetReview(ctx, "sub1")
	if got.State != lifecycle.InReview || err != nil || it.ApprovalsRequired != 2 || it.Deadline.IsZero() {
		t.Fatalf("after Undecided: %s, review %+v, %v; want in review with an open review needing two approvals", got.State, it, err)
	}
	queue, err := st.ListReviews(ctx, domain.ReviewQuery{})
	if err != nil || len(queue) != 1 || queue[0].VersionID != "sub1" {
		t.Errorf("the queue = %+v, %v; want the version in it", queue, err)
	}
}
