package triage

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/policy"
	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/dataflow"
	"gatehouse.dev/gatehouse/internal/vet/diff"
	"gatehouse.dev/gatehouse/manifest"
)

// Facts are what the caller knows about a version when it reaches triage:
// the manifests, the vetting results and what the store knows of the
// publisher. NewInput turns them into the policy's input.
type Facts struct {
	// Manifest is the version's manifest. Required.
	Manifest *manifest.Manifest
	// Previous is the last approved version's manifest; nil when no version
	// of the plugin was approved before.
	Previous *manifest.Manifest
	// Results are the vetting results of the version.
	Results []vet.Result
	// VetConfig is the configuration vetting ran with, which says which
	// rules are enforced and which are in shadow mode. Its zero value
	// treats every rule as enforced.
	VetConfig vet.Config

	Publisher       policy.Publisher
	AutoApprovalOff policy.AutoApprovalOff
	// HostErrorRate is the share of failed calls reported by hosts running
	// earlier versions, 0 to 1.
	HostErrorRate float64
}

// NewInput builds the policy input for a version from its facts, with the
// risk weight filled in. It fails when the manifest's permissions do not
// parse (intake should have refused such a package) or the diff analyzer's
// detail cannot be read; a licence it cannot read is passed on with no
// choices, which the default policy denies.
func NewInput(f Facts) (policy.Input, error) {
	m := f.Manifest
	if m == nil {
		return policy.Input{}, errors.New("triage needs the version's manifest")
	}
	perms, err := m.ParsedPermissions()
	if err != nil {
		return policy.Input{}, fmt.Errorf("reading the permissions of %s@%s: %w", m.ID, m.Version, err)
	}
	in := policy.Input{
		Plugin: policy.Plugin{
			ID:           m.ID,
			Namespace:    m.Namespace(),
			Version:      m.Version,
			FirstVersion: f.Previous == nil,
		},
		Permissions:     toPolicyPerms(perms),
		Data:            dataOf(m),
		License:         policy.License{Expression: m.License, Choices: [][]string{}},
		HostAPI:         m.Runtime.HostAPI,
		Publisher:       f.Publisher,
		AutoApprovalOff: f.AutoApprovalOff,
		HostErrorRate:   f.HostErrorRate,
	}
	if choices, err := LicenseChoices(m.License); err == nil {
		in.License.Choices = choices
	}
	in.Findings, in.Checks = fromResults(f.Results, f.VetConfig)
	flows, err := flowsOf(m, f.Results)
	if err != nil {
		return policy.Input{}, err
	}
	in.Flows = toPolicyFlows(flows)
	in.Provenance = provenanceOf(f.Results)
	if f.Previous != nil {
		in.Plugin.PreviousVersion = f.Previous.Version
		d, err := diffOf(m, f.Previous, f.Results)
		if err != nil {
			return policy.Input{}, err
		}
		prevFlows, err := dataflow.Declared(f.Previous, nil)
		if err != nil {
			return policy.Input{}, fmt.Errorf("the flows of the last approved version %s: %w", f.Previous.Version, err)
		}
		d.FlowsAdded = flowsAdded(prevFlows, flows)
		in.Diff = d
	}
	in.Weight = Weigh(in)
	return in, nil
}

// flowsOf returns the version's data flows: the dataflow analyzer's, or,
// when it did not run, those the manifest alone declares (so a policy
// never judges a version as having no flows because an analyzer failed).
func flowsOf(m *manifest.Manifest, results []vet.Result) ([]dataflow.Flow, error) {
	if d, err := dataflow.FromResults(results); err == nil {
		return d.Flows, nil
	}
	flows, err := dataflow.Declared(m, nil)
	if err != nil {
		return nil, fmt.Errorf("deriving the data flows of %s@%s: %w", m.ID, m.Version, err)
	}
	return flows, nil
}

func toPolicyFlows(fs []dataflow.Flow) []policy.Flow {
	out := make([]policy.Flow, 0, len(fs))
	for _, f := range fs {
		out = append(out, policy.Flow{ID: f.ID, Category: f.Category, Destination: f.Destination, Purpose: f.Purpose,
			Retention: f.Retention, RetentionDays: f.RetentionDays, RetentionPointer: f.RetentionPointer})
	}
	return out
}

// flowsAdded returns the sorted ids of flows in cur that prev lacks.
func flowsAdded(prev, cur []dataflow.Flow) []string {
	ids := func(fs []dataflow.Flow) []string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = f.ID
		}
		return out
	}
	return added(ids(prev), ids(cur))
}

func toPolicyPerms(ps []manifest.Permission) []policy.Permission {
	out := make([]policy.Permission, len(ps))
	for i, p := range ps {
		out[i] = policy.Permission{Kind: p.Kind, Scope: p.Scope}
	}
	return out
}

func dataOf(m *manifest.Manifest) policy.Data {
	if m.Data == nil {
		return policy.Data{Categories: []string{}}
	}
	return policy.Data{Categories: sortedSet(m.Data.Categories), LeavesPlatform: m.Data.LeavesPlatform}
}

// fromResults flattens vetting results into the policy's findings and
// checks. A finding is enforced when its rule's mode is: a rule in shadow
// mode is shown but never blocks. When the results together hold more
// findings than an input may, the most severe are kept.
func fromResults(results []vet.Result, cfg vet.Config) ([]policy.Finding, []policy.Check) {
	findings := []policy.Finding{}
	checks := make([]policy.Check, 0, len(results))
	for _, r := range results {
		checks = append(checks, policy.Check{
			Analyzer: r.Analyzer,
			Status:   string(r.Status),
			Required: r.Mode.Enabled && r.Mode.Required,
			Enforced: r.Mode.Enabled && r.Mode.Enforced,
			Blocking: r.Blocking,
		})
		for _, f := range r.Findings {
			findings = append(findings, policy.Finding{
				Analyzer:   r.Analyzer,
				RuleID:     f.RuleID,
				Severity:   string(f.Severity),
				Suppressed: f.Suppressed != nil,
				Enforced:   cfg.RuleMode(r.Analyzer, f.RuleID).Enforced,
			})
		}
	}
	if len(findings) > policy.MaxFindings {
		slices.SortStableFunc(findings, func(a, b policy.Finding) int {
			return cmp.Compare(vet.Severity(b.Severity).Rank(), vet.Severity(a.Severity).Rank())
		})
		findings = findings[:policy.MaxFindings]
	}
	return findings, checks
}

// diffOf compares the manifests for what the gates ask about, and takes the
// code-level change (imports, size, files) from the diff analyzer's detail
// when it produced one.
//
// Origins are those of net: permissions: the sandbox lets a plugin reach
// nothing else, so an origin that merely appears in the code (the diff
// analyzer reports those as findings for reviewers) does not stop
// auto-approval.
func diffOf(cur, prev *manifest.Manifest, results []vet.Result) (*policy.Diff, error) {
	prevPerms, err := prev.ParsedPermissions()
	if err != nil {
		return nil, fmt.Errorf("reading the permissions of the last approved version %s: %w", prev.Version, err)
	}
	curPerms, _ := cur.ParsedPermissions() // parsed once already by NewInput
	d := &policy.Diff{
		PermissionsAdded:    added(permStrings(prevPerms), permStrings(curPerms)),
		PermissionsRemoved:  added(permStrings(curPerms), permStrings(prevPerms)),
		OriginsAdded:        added(origins(prevPerms), origins(curPerms)),
		DataCategoriesAdded: added(dataOf(prev).Categories, dataOf(cur).Categories),
		HostAPIChanged:      strings.TrimSpace(cur.Runtime.HostAPI) != strings.TrimSpace(prev.Runtime.HostAPI),
		PreviousHostAPI:     prev.Runtime.HostAPI,
		ImportsAdded:        []string{},
	}
	for _, r := range results {
		if r.Analyzer != diff.Name || r.Status == vet.Errored || r.Status == vet.Skipped || len(r.Detail) == 0 {
			continue
		}
		var det diff.Detail
		if err := json.Unmarshal(r.Detail, &det); err != nil {
			return nil, fmt.Errorf("reading the diff analyzer's detail: %w", err)
		}
		d.ImportsAdded = sortedSet(det.Imports.Added)
		d.SizeChangePercent = det.Module.ChangePercent
		d.FilesChanged = len(det.Files.Added) + len(det.Files.Removed) + len(det.Files.Changed)
	}
	return d, nil
}

func permStrings(ps []manifest.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func origins(ps []manifest.Permission) []string {
	var out []string
	for _, p := range ps {
		if p.Kind == hostapi.PermNet {
			out = append(out, p.Scope)
		}
	}
	return out
}

// added returns the sorted members of cur not in prev.
func added(prev, cur []string) []string {
	out := []string{}
	for _, s := range sortedSet(cur) {
		if !slices.Contains(prev, s) {
			out = append(out, s)
		}
	}
	return out
}

func sortedSet(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// provenanceOf reads the provenance analyzer's detail from results; a
// missing, errored or unreadable result gives no facts (all false), so a
// rule requiring provenance fails closed.
func provenanceOf(results []vet.Result) policy.Provenance {
	for _, r := range results {
		if r.Analyzer != prov.AnalyzerName || len(r.Detail) == 0 {
			continue
		}
		var d prov.Detail
		if json.Unmarshal(r.Detail, &d) != nil {
			return policy.Provenance{}
		}
		return policy.Provenance{
			Present:          d.Provenance.Present,
			Verified:         d.Provenance.Verified,
			Builder:          d.Provenance.Builder,
			BuildType:        d.Provenance.BuildType,
			SourceRepository: d.Provenance.SourceRepository,
			Reproducible:     d.Rebuild.Reproducible,
		}
	}
	return policy.Provenance{}
}
