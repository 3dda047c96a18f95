package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/internal/audit"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/trust"
)

// stewards change the policy and the auto-approval switches.
var stewards = []domain.Role{domain.RoleSteward}

// ActivePolicy is the policy in force and the history of applied ones.
type ActivePolicy struct {
	Engine  *policy.Engine
	History []domain.PolicyRecord
}

// Policy returns the active policy and the history of applied policies;
// every signed-in caller may read them.
func (a *App) Policy(ctx context.Context, caller domain.Principal) (ActivePolicy, error) {
	if a.cfg.Review == nil {
		return ActivePolicy{}, unavailable("the policy")
	}
	hist, err := a.cfg.Store.ListPolicies(ctx)
	if err != nil {
		return ActivePolicy{}, err
	}
	return ActivePolicy{Engine: a.cfg.Review.Engine(), History: hist}, nil
}

// CheckPolicy compiles and tests proposed policy sources (file name →
// Rego), refusing them (KindInvalid) with file, line and column when they
// do not compile or their tests fail.
func (a *App) CheckPolicy(ctx context.Context, modules map[string]string) (*policy.Engine, error) {
	if len(modules) == 0 {
		return nil, Refuse(KindInvalid, "bad_policy", "the policy has no modules")
	}
	p := policy.New(modules)
	e, err := policy.Compile(ctx, p)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "policy_does_not_compile", Msg: err.Error(), Err: err}
	}
	rep, err := policy.Test(ctx, p)
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: "policy_tests_fail", Msg: err.Error(), Err: err}
	}
	return e, nil
}

// DryRun is what a proposed policy would change.
type DryRun struct {
	Proposed, Active string // digests
	// Differences are the versions awaiting a decision the proposed
	// policy decides differently.
	Differences []policy.Difference
	// WouldSuspend are the certified versions it would suspend, re-decided
	// from their latest vetting results (nil without revalidation).
	WouldSuspend []revalidate.Impact
}

// PolicyDryRun compiles and tests a proposed policy and reports which
// versions it would decide differently from the active one.
func (a *App) PolicyDryRun(ctx context.Context, caller domain.Principal, modules map[string]string) (DryRun, error) {
	if !caller.Allowed(stewards...) {
		return DryRun{}, Errorf(KindForbidden, "role %s may not try policies", caller.Role)
	}
	if a.cfg.Review == nil {
		return DryRun{}, unavailable("the policy")
	}
	proposed, err := a.CheckPolicy(ctx, modules)
	if err != nil {
		return DryRun{}, err
	}
	out := DryRun{Proposed: proposed.Digest(), Active: a.cfg.Review.Engine().Digest()}
	if out.Differences, err = a.cfg.Review.DryRun(ctx, proposed); err != nil {
		return out, err
	}
	if a.cfg.Revalidate != nil {
		if out.WouldSuspend, err = a.cfg.Revalidate.PolicyImpact(ctx, proposed); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Applied is what applying a policy did.
type Applied struct {
	Digest string
	// Revalidating counts the certified versions queued for revalidation
	// because the policy would suspend them; Revalidated says whether
	// revalidation is configured at all.
	Revalidating int
	Revalidated  bool
}

// ApplyPolicy makes a proposed policy the active one, once it compiles
// and its tests pass: recorded and audited, logged in the transparency
// log, and the certified versions it would suspend revalidated.
func (a *App) ApplyPolicy(ctx context.Context, caller domain.Principal, modules map[string]string) (Applied, error) {
	if !caller.Allowed(stewards...) {
		return Applied{}, Errorf(KindForbidden, "role %s may not apply policies", caller.Role)
	}
	if a.cfg.Review == nil {
		return Applied{}, unavailable("the policy")
	}
	proposed, err := a.CheckPolicy(ctx, modules)
	if err != nil {
		return Applied{}, err
	}
	out := Applied{Digest: proposed.Digest()}
	mods, _ := json.Marshal(proposed.Policy().Modules)
	now := a.cfg.Now()
	ev := audit.Event{Time: now, Actor: caller.Subject, Action: audit.PolicyApply, Subject: "policy:" + proposed.Digest(), Reason: "replaces " + a.cfg.Review.Engine().Digest()}
	if err := a.cfg.Store.ApplyPolicy(ctx, domain.PolicyRecord{Digest: proposed.Digest(), Modules: mods, AppliedBy: caller.Subject, AppliedAt: now}, ev); err != nil {
		return out, err
	}
	a.cfg.Review.Use(proposed)
	if a.cfg.Trust != nil {
		// The policy decides what gets certified: its change is logged.
		if err := a.cfg.Trust.LogEvent(ctx, trust.Event{Kind: trust.EventPolicyApplied, Subject: proposed.Digest(), Detail: "applied by " + caller.Subject}); err != nil {
			return out, fmt.Errorf("the policy is applied, but logging it failed: %w", err)
		}
	}
	if a.cfg.Revalidate != nil {
		// Revalidate what the new policy would suspend: the analyzers run
		// again, so a suspension rests on today's results.
		out.Revalidated = true
		impact, err := a.cfg.Revalidate.PolicyImpact(ctx, proposed)
		if err == nil {
			err = a.cfg.Revalidate.PolicyApplied(ctx, caller.Subject, proposed.Digest(), impact)
		}
		if err != nil {
			return out, fmt.Errorf("the policy is applied, but queueing the revalidations it calls for failed: %w", err)
		}
		out.Revalidating = len(impact)
	}
	return out, nil
}

// SetAutoApproval switches auto-approval off or on for a plugin
// ("plugin:NS/NAME") or a namespace ("namespace:NS"), with a reason for
// the audit trail.
func (a *App) SetAutoApproval(ctx context.Context, caller domain.Principal, scope string, off bool, reason string) error {
	if !caller.Allowed(stewards...) {
		return Errorf(KindForbidden, "role %s may not switch auto-approval", caller.Role)
	}
	if strings.TrimSpace(reason) == "" {
		return Refuse(KindInvalid, "reason_required", "say why: the switch is audited")
	}
	action := audit.AutoApprovalOn
	if off {
		action = audit.AutoApprovalOff
	}
	ev := audit.Event{Time: a.cfg.Now(), Actor: caller.Subject, Action: action, Subject: scope, Reason: reason}
	if err := a.cfg.Store.SetAutoApprovalOff(ctx, scope, off, caller.Subject, reason, ev); err != nil {
		// The store refuses a scope it cannot parse or that names nothing.
		return &Error{Kind: KindInvalid, Code: "bad_scope", Msg: err.Error(), Err: err}
	}
	return nil
}
