package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
)

// resumeBatch bounds the versions Resume looks at per state and call; the
// rest wait for the next call.
const resumeBatch = 500

// Resume gives every version left in a state that no person waits on, and
// that nothing is working on, its next step back: a version in vetting
// without a live job gets its job again, and a version in triage is
// triaged (or rejected, when its last vetting run blocked it). Each resume
// writes an audit.SubmissionResume event.
//
// grace is how long a version (and a running job) must have gone
// untouched before it counts as abandoned: zero at start-up when the
// process is alone on its store, where anything running belongs to a
// process that died; longer when other processes may be at work. Received
// versions are ProcessPending's; auto-approved ones are certified by
// review.Service.ResumeAutoApproved.
func (s *Service) Resume(ctx context.Context, grace time.Duration) (resumed int, err error) {
	cutoff := s.Now().Add(-grace)
	var errs []error
	if grace <= 0 {
		// Alone on the store: a running job's worker is dead, so its lease
		// is not worth waiting for.
		jobs, err := s.Store.ListJobs(ctx, "running", resumeBatch)
		if err != nil {
			return 0, fmt.Errorf("listing running jobs: %w", err)
		}
		for _, j := range jobs {
			if j.Kind != JobVet {
				continue
			}
			if err := s.Store.RetryJob(ctx, j.ID, "the process running it stopped", s.Now()); err != nil {
				errs = append(errs, fmt.Errorf("requeueing job %d: %w", j.ID, err))
				continue
			}
			s.resumed(ctx, j.Key, "the process vetting it stopped; vetting starts again")
			resumed++
		}
	}
	vs, err := s.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Vetting, Limit: resumeBatch})
	if err != nil {
		return resumed, fmt.Errorf("finding versions in vetting: %w", err)
	}
	for _, v := range vs {
		if v.UpdatedAt.After(cutoff) {
			continue
		}
		ok, err := s.Store.EnqueueJob(ctx, domain.Job{Kind: JobVet, Key: v.ID, RunAt: s.Now()})
		if err != nil {
			errs = append(errs, fmt.Errorf("queueing vetting of %s: %w", v.ID, err))
			continue
		}
		if ok {
			s.resumed(ctx, v.ID, "in vetting without a vetting job; vetting starts again")
			resumed++
		}
	}
	vs, err = s.Store.FindVersions(ctx, domain.VersionQuery{State: lifecycle.Triage, Limit: resumeBatch})
	if err != nil {
		return resumed, errors.Join(append(errs, fmt.Errorf("finding versions in triage: %w", err))...)
	}
	for _, v := range vs {
		if v.UpdatedAt.After(cutoff) {
			continue
		}
		if err := s.resumeTriage(ctx, v); err != nil {
			if ctx.Err() != nil {
				return resumed, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("triaging %s: %w", v.ID, err))
			continue
		}
		resumed++
	}
	return resumed, errors.Join(errs...)
}

// resumed records that the work on version id was taken up again.
func (s *Service) resumed(ctx context.Context, id, reason string) {
	ev := audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionResume, Subject: "submission:" + id, Reason: reason}
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		s.Log.Error("recording a resumed submission", "submission", id, "err", err)
	}
	s.Log.Warn("resumed a submission left mid-way", "submission", id, "reason", reason)
}

// resumeTriage finishes what vetVersion started after its last vetting
// run: rejection when the run blocked the version, review when there is
// no run (vetting was given up) or no triager, the policy otherwise.
func (s *Service) resumeTriage(ctx context.Context, v domain.Version) error {
	run, err := s.Store.LatestVetRun(ctx, v.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		s.resumed(ctx, v.ID, "in triage without a vetting run; a reviewer decides")
		return s.finishTriage(ctx, v.ID, lifecycle.InReview, "vetting did not complete; a reviewer must decide")
	case err != nil:
		return fmt.Errorf("reading the last vetting run: %w", err)
	case run.Blocked:
		s.resumed(ctx, v.ID, "in triage after a blocking vetting run; rejecting")
		return s.finishTriage(ctx, v.ID, lifecycle.Rejected, run.Summary+". Fix these and submit a new version; `gatehouse vet` runs the same checks locally.")
	case s.Triager == nil:
		s.resumed(ctx, v.ID, "in triage; no auto-approval policy is active")
		return s.finishTriage(ctx, v.ID, lifecycle.InReview, run.Summary+"; no auto-approval policy is active, so a reviewer looks at every version")
	}
	var results []vet.Result
	if err := json.Unmarshal(run.Results, &results); err != nil {
		return fmt.Errorf("reading vetting run %d: %w", run.Run, err)
	}
	pkg, release, err := s.packageToVet(ctx, v.Digest)
	if err != nil {
		return err
	}
	defer release()
	in, err := s.input(ctx, v.PluginID, v.Version, pkg)
	if err != nil {
		return err
	}
	s.resumed(ctx, v.ID, fmt.Sprintf("in triage; the policy decides on vetting run %d", run.Run))
	return s.Triager.Triage(ctx, v, in, results, s.VetConfig)
}

// finishTriage moves a version from triage to state to.
func (s *Service) finishTriage(ctx context.Context, id string, to lifecycle.State, reason string) error {
	ev := audit.Event{Time: s.Now(), Actor: "system", Action: audit.SubmissionTransition, Subject: "submission:" + id}
	err := s.Store.Transition(ctx, id, lifecycle.Triage, to, reason, ev)
	if errors.Is(err, domain.ErrStateChanged) {
		return nil // another worker moved it on
	}
	return err
}
