package server

import (
	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
)

// policyDryRunJSON is a dry run's answer. The certified versions the
// proposed policy would suspend are an empty list, never null.
func policyDryRunJSON(proposed, active string, diffs []policy.Difference, suspend []revalidate.Impact) api.PolicyDryRun {
	out := api.PolicyDryRun{Proposed: proposed, Active: active, WouldSuspend: []api.PolicyImpact{}}
	if diffs != nil {
		out.Differences = []api.PolicyDifference{}
	}
	for _, d := range diffs {
		pd := api.PolicyDifference{Index: d.Index, Plugin: d.Plugin, Version: d.Version, Current: string(d.Current), Proposed: string(d.Proposed),
			CurrentErr: d.CurrentErr, ProposedErr: d.ProposedErr}
		if d.Changes != nil {
			pd.Changes = []api.PolicyChange{}
		}
		for _, c := range d.Changes {
			pd.Changes = append(pd.Changes, api.PolicyChange{Field: c.Field, Current: c.Current, Proposed: c.Proposed})
		}
		out.Differences = append(out.Differences, pd)
	}
	for _, im := range suspend {
		out.WouldSuspend = append(out.WouldSuspend, api.PolicyImpact{Submission: im.VersionID, Plugin: im.Plugin, Version: im.Version, Tier: im.Tier, Problems: im.Problems})
	}
	return out
}

// healthAnswer answers a host's health report.
func healthAnswer(outcomes []health.Outcome) api.HealthAnswer {
	out := api.HealthAnswer{}
	if outcomes != nil {
		out.Plugins = []api.HealthOutcome{}
	}
	for _, o := range outcomes {
		out.Plugins = append(out.Plugins, api.HealthOutcome{Plugin: o.Plugin, Version: o.Version, ErrorRate: o.ErrorRate, Alert: o.Alert, Reasons: o.Reasons,
			Quarantine: o.Quarantine, Hosts: o.Hosts, RequiredHosts: o.RequiredHosts, Suspended: o.Suspended})
	}
	return out
}
