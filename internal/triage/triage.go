// Package triage decides where a vetted plugin version goes next: rejected,
// auto-approved, or to a person's review queue, with the risk tier, the
// approvals and deadline that tier needs, and a record of what
// auto-approval would have done.
//
// Triage is the Go side of the decision: it builds the policy's input from
// the manifests and vetting results (NewInput), weighs the risk factor by
// factor (Weigh), and asks the policy (package policy) for the rest. It is
// pure domain code: the caller stores the verdict and moves the version.
package triage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
)

// Verdict is triage's decision on one version, with everything needed to
// show it, store it and re-run it.
type Verdict struct {
	Outcome policy.Outcome `json:"outcome"`
	// Reasons say why, a sentence each: the violations and blocking
	// findings of a rejection, the failed gates of a version sent to
	// review, or that every gate passed.
	Reasons []string    `json:"reasons"`
	Tier    policy.Tier `json:"tier"`
	// Weight is the risk weight, factor by factor, which also orders the
	// review queue within a deadline.
	Weight                  policy.Weight `json:"weight"`
	ApprovalsRequired       int           `json:"approvals_required"`
	ReviewDeadlineHours     int           `json:"review_deadline_hours"`
	CertificateLifetimeDays int           `json:"certificate_lifetime_days"`
	// PolicyDigest names the policy that decided.
	PolicyDigest string `json:"policy_digest"`
	// Input is exactly what the policy saw, for storage and dry runs.
	Input    policy.Input    `json:"input"`
	Decision policy.Decision `json:"decision"`
	// Explanation lists which rules fired and why.
	Explanation []string `json:"explanation"`
	// DryRun records what auto-approval would have decided, whatever the
	// outcome.
	DryRun DryRun `json:"dry_run"`
}

// DryRun is what auto-approval would have decided on its own.
type DryRun struct {
	WouldAutoApprove bool   `json:"would_auto_approve"`
	Mode             string `json:"mode"` // the policy's auto-approval mode: "on" or "dry_run"
	// Summary reads "would auto-approve: yes, because …" or "would
	// auto-approve: no, because …".
	Summary     string        `json:"summary"`
	FailedGates []policy.Gate `json:"failed_gates"`
}

// State is the lifecycle state the verdict moves the version to.
func (v *Verdict) State() lifecycle.State {
	switch v.Outcome {
	case policy.Rejected:
		return lifecycle.Rejected
	case policy.AutoApproved:
		return lifecycle.AutoApproved
	}
	return lifecycle.InReview
}

// ReviewDeadline returns when a review of a version triaged at t is due.
func (v *Verdict) ReviewDeadline(t time.Time) time.Time {
	return t.Add(time.Duration(v.ReviewDeadlineHours) * time.Hour)
}

// CertificateLifetime is how long a certificate issued for the version is
// valid.
func (v *Verdict) CertificateLifetime() time.Duration {
	return time.Duration(v.CertificateLifetimeDays) * 24 * time.Hour
}

// Triage weighs the input, asks the policy, and returns the verdict. The
// weight in the input is always recomputed, so a verdict never rests on a
// stale or hand-made weight; the returned Input carries the one used.
func Triage(ctx context.Context, e *policy.Engine, in policy.Input) (Verdict, error) {
	if e == nil {
		return Verdict{}, fmt.Errorf("triage needs a compiled policy")
	}
	in.Weight = Weigh(in)
	d, err := e.Decide(ctx, in)
	if err != nil {
		return Verdict{}, fmt.Errorf("triage of %s@%s: %w", in.Plugin.ID, in.Plugin.Version, err)
	}
	v := Verdict{
		Outcome:                 d.Outcome(),
		Tier:                    d.Tier,
		Weight:                  in.Weight,
		ApprovalsRequired:       d.ApprovalsRequired,
		ReviewDeadlineHours:     d.ReviewDeadlineHours,
		CertificateLifetimeDays: d.CertificateLifetimeDays,
		PolicyDigest:            e.Digest(),
		Input:                   in,
		Decision:                d,
		Explanation:             d.Explanation,
		DryRun:                  dryRun(&d),
	}
	v.Reasons = reasons(&d, v.Outcome)
	return v, nil
}

func reasons(d *policy.Decision, o policy.Outcome) []string {
	var out []string
	switch o {
	case policy.Rejected:
		for _, v := range d.Deny {
			s := fmt.Sprintf("%s: %s", v.Rule, v.Message)
			if v.Suggestion != "" {
				s += " (suggestion: " + v.Suggestion + ")"
			}
			out = append(out, s)
		}
		for _, id := range d.BlockingFindings {
			out = append(out, fmt.Sprintf("finding %s blocks the version until it is fixed or marked a false positive", id))
		}
	case policy.AutoApproved:
		out = append(out, "every auto-approval gate passed")
	default:
		for _, g := range d.FailedGates() {
			out = append(out, fmt.Sprintf("%s: %s", g.Name, g.Reason))
		}
		if len(out) == 0 && d.WouldAutoApprove {
			out = append(out, "every auto-approval gate passed, but auto-approval is in dry-run mode")
		}
		if len(out) == 0 {
			out = append(out, "the policy did not allow auto-approval")
		}
	}
	return out
}

func dryRun(d *policy.Decision) DryRun {
	r := DryRun{WouldAutoApprove: d.WouldAutoApprove, Mode: d.AutoApprovalMode, FailedGates: d.FailedGates()}
	if r.FailedGates == nil {
		r.FailedGates = []policy.Gate{}
	}
	if r.WouldAutoApprove {
		r.Summary = fmt.Sprintf("would auto-approve: yes, because all %d gates passed", len(d.Gates))
		return r
	}
	var why []string
	for _, v := range d.Deny {
		why = append(why, fmt.Sprintf("the policy denies it (%s)", v.Rule))
	}
	for _, g := range r.FailedGates {
		why = append(why, fmt.Sprintf("%s failed (%s)", g.Name, g.Reason))
	}
	if len(why) == 0 {
		why = append(why, "the policy did not allow it")
	}
	r.Summary = "would auto-approve: no, because " + strings.Join(why, "; ")
	return r
}
