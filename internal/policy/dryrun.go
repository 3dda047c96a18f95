package policy

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Difference is one input that two policies decide differently.
type Difference struct {
	// Index is the input's position in the list given to DryRun.
	Index   int
	Plugin  string // namespace/name
	Version string
	// Current and Proposed are the two outcomes (empty where that policy
	// failed to decide; see the errors).
	Current, Proposed Outcome
	// Changes lists each decision field that differs, in a fixed order.
	Changes []Change
	// CurrentErr and ProposedErr are set when that policy could not decide
	// the input at all, which a steward needs to see before applying it.
	CurrentErr, ProposedErr string
}

// Change is one field of a decision that two policies answer differently.
// The values are JSON, so lists and objects compare and print alike.
type Change struct {
	Field             string // "outcome", "tier", "deny", "gate no_new_origin", …
	Current, Proposed string
}

// DryRun decides every input under both policies and reports the inputs
// whose decisions differ, field by field: the outcome, the violations, the
// blocking findings, the tier, each gate, the auto-approval verdicts,
// approvals, deadline and certificate lifetime. Explanations are not
// compared (their wording changes with any edit). Inputs decided alike are
// left out. It stops early only when ctx is done.
func DryRun(ctx context.Context, current, proposed *Engine, inputs []Input) ([]Difference, error) {
	var diffs []Difference
	for i, in := range inputs {
		if err := ctx.Err(); err != nil {
			return diffs, fmt.Errorf("dry run stopped after %d of %d inputs: %w", i, len(inputs), err)
		}
		cur, cerr := current.Decide(ctx, in)
		pro, perr := proposed.Decide(ctx, in)
		d := Difference{Index: i, Plugin: in.Plugin.ID, Version: in.Plugin.Version}
		if cerr != nil || perr != nil {
			if cerr != nil {
				d.CurrentErr = cerr.Error()
			} else {
				d.Current = cur.Outcome()
			}
			if perr != nil {
				d.ProposedErr = perr.Error()
			} else {
				d.Proposed = pro.Outcome()
			}
			diffs = append(diffs, d)
			continue
		}
		d.Current, d.Proposed = cur.Outcome(), pro.Outcome()
		d.Changes = compare(&cur, &pro)
		if len(d.Changes) > 0 {
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

// compare lists the fields in which two decisions differ.
func compare(a, b *Decision) []Change {
	var out []Change
	field := func(name string, x, y any) {
		xs, ys := jsonText(x), jsonText(y)
		if xs != ys {
			out = append(out, Change{Field: name, Current: xs, Proposed: ys})
		}
	}
	field("outcome", a.Outcome(), b.Outcome())
	field("deny", sortedViolations(a.Deny), sortedViolations(b.Deny))
	field("blocking_findings", a.BlockingFindings, b.BlockingFindings)
	field("tier", a.Tier, b.Tier)
	field("would_auto_approve", a.WouldAutoApprove, b.WouldAutoApprove)
	field("auto_approve_allowed", a.AutoApproveAllowed, b.AutoApproveAllowed)
	field("auto_approval_mode", a.AutoApprovalMode, b.AutoApprovalMode)
	// Gates by name, in the current policy's order, then gates only the
	// proposed policy has.
	gate := func(gs []Gate, name string) any {
		for _, g := range gs {
			if g.Name == name {
				return g.Passed
			}
		}
		return nil // the policy has no such gate
	}
	var names []string
	for _, g := range a.Gates {
		names = append(names, g.Name)
	}
	for _, g := range b.Gates {
		if !slices.Contains(names, g.Name) {
			names = append(names, g.Name)
		}
	}
	for _, n := range names {
		field("gate "+n, gate(a.Gates, n), gate(b.Gates, n))
	}
	field("approvals_required", a.ApprovalsRequired, b.ApprovalsRequired)
	field("review_deadline_hours", a.ReviewDeadlineHours, b.ReviewDeadlineHours)
	field("certificate_lifetime_days", a.CertificateLifetimeDays, b.CertificateLifetimeDays)
	field("revalidation_days", a.RevalidationDays, b.RevalidationDays)
	field("remediation_days", a.RemediationDays, b.RemediationDays)
	field("host_health", a.HostHealth, b.HostHealth)
	return out
}

func sortedViolations(vs []Violation) []Violation {
	out := slices.Clone(vs)
	slices.SortFunc(out, func(x, y Violation) int {
		return cmp.Or(strings.Compare(x.Rule, y.Rule), strings.Compare(x.Message, y.Message))
	})
	if out == nil {
		out = []Violation{}
	}
	return out
}

func jsonText(v any) string {
	if s, ok := v.([]string); ok && s == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v) // cannot happen for the types above
	}
	return string(b)
}
