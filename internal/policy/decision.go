package policy

import (
	"fmt"
	"slices"
)

// Tier is a risk tier.
type Tier string

const (
	Low      Tier = "low"
	Medium   Tier = "medium"
	High     Tier = "high"
	Critical Tier = "critical"
)

// Rank orders tiers: Low is 0, Critical 3, unknown -1.
func (t Tier) Rank() int {
	switch t {
	case Low:
		return 0
	case Medium:
		return 1
	case High:
		return 2
	case Critical:
		return 3
	}
	return -1
}

// Decision is what a policy decides for one input: the value of
// data.gatehouse.decision. A policy must produce every field; Decide refuses
// a decision with a missing or out-of-range field rather than fill in a
// default that might let a version through.
type Decision struct {
	// Deny lists what the platform forbids outright; any entry rejects the
	// version.
	Deny []Violation `json:"deny"`
	// BlockingFindings are the rule ids of findings that reject the
	// version.
	BlockingFindings []string `json:"blocking_findings"`
	Tier             Tier     `json:"tier"`
	// Gates are every auto-approval gate, passed or not, in the policy's
	// order.
	Gates []Gate `json:"gates"`
	// AutoApprovalMode is "on" or "dry_run" (auto-approval is only
	// recorded).
	AutoApprovalMode string `json:"auto_approval_mode"`
	// WouldAutoApprove is what auto-approval decides on its own merits: no
	// violation and every gate passed, whatever the mode.
	WouldAutoApprove bool `json:"would_auto_approve"`
	// AutoApproveAllowed is WouldAutoApprove with the mode switched on.
	AutoApproveAllowed      bool `json:"auto_approve_allowed"`
	ApprovalsRequired       int  `json:"approvals_required"`
	ReviewDeadlineHours     int  `json:"review_deadline_hours"`
	CertificateLifetimeDays int  `json:"certificate_lifetime_days"`
	// RevalidationDays is how often a certified version of this tier is
	// revalidated; it must come before the certificate expires.
	RevalidationDays int `json:"revalidation_days"`
	// RemediationDays is how long a version suspended by a failed
	// revalidation stays suspended, waiting for a fixed version, before it
	// is revoked.
	RemediationDays int `json:"remediation_days"`
	// HostHealth is the runtime health hosts report above which a certified
	// version raises an alert and goes back to people.
	HostHealth HostHealth `json:"host_health"`
	// Explanation says which rules fired and why, a sentence each.
	Explanation []string `json:"explanation"`
}

// Violation is one thing a policy forbids.
type Violation struct {
	Rule       string `json:"rule"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
}

// Gate is one yes/no auto-approval question.
type Gate struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason"`
}

// HostHealth are the thresholds on what hosts report of a version at run
// time, over one report's window.
type HostHealth struct {
	// MaxErrorRate is the share of failed calls (0 to 1) at or above which
	// the version is unhealthy.
	MaxErrorRate float64 `json:"max_error_rate"`
	// MaxBreakerTrips is how many circuit-breaker trips make it unhealthy.
	MaxBreakerTrips int `json:"max_breaker_trips"`
	// MinCalls is how many calls a window needs before its error rate
	// counts, so one failed call of two is not an alert.
	MinCalls int `json:"min_calls"`
}

// Outcome is where a decision sends a version.
type Outcome string

const (
	Rejected     Outcome = "rejected"      // a violation or a blocking finding
	AutoApproved Outcome = "auto_approved" // every gate passed and auto-approval is on
	InReview     Outcome = "in_review"     // a person decides
)

// Outcome returns where the decision sends the version. Rejection wins
// over everything, and auto-approval needs the policy's explicit yes.
func (d *Decision) Outcome() Outcome {
	switch {
	case len(d.Deny) > 0 || len(d.BlockingFindings) > 0:
		return Rejected
	case d.AutoApproveAllowed:
		return AutoApproved
	}
	return InReview
}

// FailedGates returns the gates that did not pass.
func (d *Decision) FailedGates() []Gate {
	var out []Gate
	for _, g := range d.Gates {
		if !g.Passed {
			out = append(out, g)
		}
	}
	return out
}

// Limits on what a policy may answer, so a broken policy cannot issue a
// ten-year certificate or a review nobody can ever complete.
const (
	maxApprovals       = 10
	maxDeadlineHours   = 24 * 90
	maxCertificateDays = 3 * 365
	maxRemediationDays = 180
	maxBreakerTrips    = 1_000_000
	maxMinCalls        = 1_000_000_000
)

// check refuses decisions a sound policy does not produce.
func (d *Decision) check() error {
	if d.Tier.Rank() < 0 {
		return fmt.Errorf("the policy's tier %q is not low, medium, high or critical", d.Tier)
	}
	if d.AutoApprovalMode != "on" && d.AutoApprovalMode != "dry_run" {
		return fmt.Errorf("the policy's auto_approval_mode %q is not \"on\" or \"dry_run\"", d.AutoApprovalMode)
	}
	if len(d.Gates) == 0 {
		return fmt.Errorf("the policy reports no auto-approval gates")
	}
	seen := make(map[string]bool, len(d.Gates))
	for _, g := range d.Gates {
		if g.Name == "" || seen[g.Name] {
			return fmt.Errorf("the policy reports a gate with an empty or repeated name %q", g.Name)
		}
		seen[g.Name] = true
	}
	if d.AutoApproveAllowed && (!d.WouldAutoApprove || len(d.FailedGates()) > 0 || len(d.Deny) > 0 || len(d.BlockingFindings) > 0) {
		return fmt.Errorf("the policy allows auto-approval although a gate failed or the version is denied")
	}
	if d.ApprovalsRequired < 1 || d.ApprovalsRequired > maxApprovals {
		return fmt.Errorf("the policy asks for %d approvals; it must be 1 to %d", d.ApprovalsRequired, maxApprovals)
	}
	if d.ReviewDeadlineHours < 1 || d.ReviewDeadlineHours > maxDeadlineHours {
		return fmt.Errorf("the policy's review deadline is %d hours; it must be 1 to %d", d.ReviewDeadlineHours, maxDeadlineHours)
	}
	if d.CertificateLifetimeDays < 1 || d.CertificateLifetimeDays > maxCertificateDays {
		return fmt.Errorf("the policy's certificate lifetime is %d days; it must be 1 to %d", d.CertificateLifetimeDays, maxCertificateDays)
	}
	if d.RevalidationDays < 1 || d.RevalidationDays > d.CertificateLifetimeDays {
		return fmt.Errorf("the policy revalidates every %d days; it must be 1 to the certificate lifetime (%d days), or certificates expire before they are renewed", d.RevalidationDays, d.CertificateLifetimeDays)
	}
	if d.RemediationDays < 1 || d.RemediationDays > maxRemediationDays {
		return fmt.Errorf("the policy's remediation deadline is %d days; it must be 1 to %d", d.RemediationDays, maxRemediationDays)
	}
	if h := d.HostHealth; !(h.MaxErrorRate > 0 && h.MaxErrorRate <= 1) || h.MaxBreakerTrips < 1 || h.MaxBreakerTrips > maxBreakerTrips || h.MinCalls < 1 || h.MinCalls > maxMinCalls {
		return fmt.Errorf("the policy's host_health thresholds (max_error_rate %v, max_breaker_trips %d, min_calls %d) must be a rate above 0 up to 1, 1 to %d trips and 1 to %d calls", h.MaxErrorRate, h.MaxBreakerTrips, h.MinCalls, maxBreakerTrips, maxMinCalls)
	}
	for _, v := range d.Deny {
		if v.Rule == "" || v.Message == "" {
			return fmt.Errorf("the policy denies with an empty rule name or message")
		}
	}
	slices.Sort(d.BlockingFindings)
	return nil
}
