package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/pipeline"
	"gatehouse.dev/gatehouse/internal/store"
	"gatehouse.dev/gatehouse/internal/store/sqlite"
)

// failing is a Vetting whose steps always fail, as when a dependency the
// step needs is down: a test double for the step's work, over the real
// store and job queue.
type failing struct {
	st    pipeline.Records
	mu    sync.Mutex
	calls map[string]int
}

func (f *failing) count(step string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[step]++
}

func (f *failing) VetStep(ctx context.Context, id string, args pipeline.VetArgs) error {
	f.count(pipeline.Vet)
	return errors.New("the analyzers are unavailable")
}

// SendToReview moves the version without a review item: the real one
// (intake's, through review.Service.Undecided) opens it, which
// TestGivenUpVersionCanBeReviewed checks.
func (f *failing) SendToReview(ctx context.Context, id, reason string) error {
	return f.st.Transition(ctx, id, lifecycle.Triage, lifecycle.InReview, reason, audit.Event{Time: time.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id})
}

func (f *failing) TriageStep(ctx context.Context, id string) error {
	f.count(pipeline.Triage)
	return errors.New("the policy engine is unavailable")
}

// TestGivenUpStepFailsClosedToReview: a step that keeps failing is
// retried with backoff, then given up, and the version goes to people with
// the cause, never on to approval and never stuck.
func TestGivenUpStepFailsClosedToReview(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state lifecycle.State
		step  string
	}{
		{lifecycle.Received, pipeline.Vet},
		{lifecycle.Triage, pipeline.Triage},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			v := domain.Version{ID: "sub1", PluginID: "acme/hello", Version: "1.0.0", Digest: "sha256:" + strings.Repeat("a", 64), Size: 1,
				Manifest: []byte(`{}`), Submitter: "alice", State: lifecycle.Received, Reason: "r", CreatedAt: now}
			if _, _, err := st.CreateVersion(ctx, v, []audit.Event{{Time: now, Actor: "alice", Action: audit.SubmissionCreate, Subject: "submission:sub1"}}); err != nil {
				t.Fatal(err)
			}
			for _, to := range []lifecycle.State{lifecycle.Vetting, lifecycle.Triage} {
				if tc.state == lifecycle.Received {
					break
				}
				from := lifecycle.Received
				if to == lifecycle.Triage {
					from = lifecycle.Vetting
				}
				if err := st.Transition(ctx, "sub1", from, to, "test", audit.Event{Time: now, Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:sub1"}); err != nil {
					t.Fatal(err)
				}
			}
			f := &failing{st: st, calls: map[string]int{}}
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			p := pipeline.New(pipeline.Config{Store: st, Vetting: f, Now: clock})
			if tc.state == lifecycle.Triage {
				if n, err := p.Reconcile(ctx, 0); err != nil || n != 1 {
					t.Fatalf("Reconcile = %d, %v; want the triage step queued", n, err)
				}
			}
			for range 10 { // past every backoff
				if err := p.RunPending(ctx); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				now = now.Add(10 * time.Minute)
				mu.Unlock()
			}
			got, _ := st.GetVersion(ctx, "sub1")
			if got.State != lifecycle.InReview || !strings.Contains(got.Reason, "could not complete after 5 attempts") || !strings.Contains(got.Reason, "unavailable") {
				t.Errorf("after the step kept failing: %s (%q), want in_review with the cause", got.State, got.Reason)
			}
			if f.calls[tc.step] != 5 {
				t.Errorf("%s ran %d times, want 5 (retried with backoff, then given up)", tc.step, f.calls[tc.step])
			}
			failed, _ := p.FailedJobs(ctx, 10)
			if len(failed) != 1 || failed[0].Kind != tc.step || store.LastError(failed[0]) == "" {
				t.Errorf("failed jobs = %+v, want one %s job with its error, kept for operators", failed, tc.step)
			}
		})
	}
}
