package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
)

// TriageStep is the pipeline's triage step. It decides on the version's
// last vetting run: rejection when the run blocked the version; review
// when there is no run (vetting was given up) or no triager; the policy
// (the Triager) otherwise. It reads everything it needs from the store,
// so it runs the same whether it follows vetting at once or after a
// crash. A version no longer in triage is left alone.
func (s *Service) TriageStep(ctx context.Context, id string) error {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("reading submission: %w", err)
	}
	if v.State != lifecycle.Triage {
		return nil
	}
	run, err := s.Store.LatestVetRun(ctx, v.ID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return s.SendToReview(ctx, v.ID, "vetting did not complete; a reviewer must decide")
	case err != nil:
		return fmt.Errorf("reading the last vetting run: %w", err)
	case run.Blocked:
		return s.move(ctx, v.ID, lifecycle.Triage, lifecycle.Rejected, run.Summary+". Fix these and submit a new version; `gatehouse vet` runs the same checks locally.")
	case s.Triager == nil:
		return s.move(ctx, v.ID, lifecycle.Triage, lifecycle.InReview, run.Summary+"; no auto-approval policy is active, so a reviewer looks at every version")
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
	return s.Triager.Triage(ctx, v, in, results, s.VetConfig)
}

// SendToReview is how the pipeline fails closed: a version in triage that
// it cannot decide on goes to people with reason, its review opened by the
// Triager so that a reviewer can decide. A version no longer in triage is
// left alone.
func (s *Service) SendToReview(ctx context.Context, id, reason string) error {
	v, err := s.Store.GetVersion(ctx, id)
	if err != nil {
		return fmt.Errorf("reading submission: %w", err)
	}
	if v.State != lifecycle.Triage {
		return nil
	}
	if s.Triager == nil {
		return s.move(ctx, id, lifecycle.Triage, lifecycle.InReview, reason)
	}
	err = s.Triager.Undecided(ctx, v, reason)
	if errors.Is(err, domain.ErrStateChanged) {
		return nil // another worker moved it on
	}
	return err
}
