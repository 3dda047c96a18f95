// Package privacy builds the privacy report of a plugin version (its data
// flows, the decision on each, their retention and evidence, and the change
// since the previous released version) and the steward's view of which
// plugins touch which categories of user data.
package privacy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/domain"
	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/behaviour"
	"gatehouse.dev/gatehouse/internal/vet/dataflow"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/trust"
)

// Records is what the reports read.
type Records interface {
	GetVersion(ctx context.Context, id string) (domain.Version, error)
	LatestVetRun(ctx context.Context, versionID string) (domain.VetRun, error)
	ListApprovals(ctx context.Context, versionID string) ([]domain.Approval, error)
	ListVersions(ctx context.Context, pluginID string) ([]domain.Version, error)
	FindVersions(ctx context.Context, q domain.VersionQuery) ([]domain.Version, error)
	LatestCertificate(ctx context.Context, versionID string) (domain.CertificateRecord, error)
}

// Released reports whether a version in state s was ever certified.
func Released(s lifecycle.State) bool {
	return s == lifecycle.Certified || s == lifecycle.Suspended || s == lifecycle.Revoked
}

// vetted is what the last vetting run says about a version's data.
type vetted struct {
	detail  *dataflow.Detail
	results []vet.Result
	source  string
}

// flowsOf returns a version's flows: the dataflow analyzer's from the last
// vetting run, or those its manifest alone declares.
func flowsOf(ctx context.Context, st Records, v domain.Version) (vetted, error) {
	run, err := st.LatestVetRun(ctx, v.ID)
	switch {
	case err == nil:
		var results []vet.Result
		if err := json.Unmarshal(run.Results, &results); err != nil {
			return vetted{}, fmt.Errorf("reading vetting run %d of %s: %w", run.Run, v.ID, err)
		}
		if d, err := dataflow.FromResults(results); err == nil {
			return vetted{detail: d, results: results, source: "vetting"}, nil
		}
	case !errors.Is(err, domain.ErrNotFound):
		return vetted{}, err
	}
	m, err := manifest.Parse(v.Manifest, manifest.Options{})
	if err != nil {
		return vetted{}, fmt.Errorf("reading the manifest of %s@%s: %w", v.PluginID, v.Version, err)
	}
	flows, err := dataflow.Declared(m, v.Manifest)
	if err != nil {
		return vetted{}, err
	}
	d := &dataflow.Detail{Flows: flows, SecretsDeclared: []string{}, SecretsRequested: []string{}}
	return vetted{detail: d, source: "manifest"}, nil
}

// Report builds the privacy report of version v.
func Report(ctx context.Context, st Records, v domain.Version, now time.Time) (*api.PrivacyReport, error) {
	vt, err := flowsOf(ctx, st, v)
	if err != nil {
		return nil, err
	}
	r := &api.PrivacyReport{
		Plugin: v.PluginID, Version: v.Version, Submission: v.ID, State: string(v.State), GeneratedAt: now.UTC(),
		Flows: []api.PrivacyFlow{}, Findings: []api.PrivacyFinding{}, Source: vt.source,
		SecretsDeclared: nonNil(vt.detail.SecretsDeclared), SecretsRequested: nonNil(vt.detail.SecretsRequested),
		Diff: api.PrivacyDiff{Added: []string{}, Removed: []string{}, Changed: []string{}},
	}
	decide, err := decider(ctx, st, v)
	if err != nil {
		return nil, err
	}
	calls := scenarioCalls(vt.results)
	for _, f := range vt.detail.Flows {
		pf := api.PrivacyFlow{ID: f.ID, Category: f.Category, Destination: f.Destination, Purpose: f.Purpose,
			Retention: f.Retention, RetentionDays: f.RetentionDays, Access: nonNil(f.Access), Permissions: nonNil(f.Permissions),
			Evidence: []api.PrivacyEvidence{}}
		pf.Decision, pf.DecidedBy = decide(f.ID)
		for _, e := range f.Evidence {
			pf.Evidence = append(pf.Evidence, api.PrivacyEvidence{Source: e.Source, File: e.File, Pointer: e.Pointer, Line: e.Line, Offset: e.Offset, Detail: e.Detail})
		}
		for _, c := range calls {
			if c.matches(f) {
				pf.Evidence = append(pf.Evidence, api.PrivacyEvidence{Source: "scenario", File: c.file, Detail: c.detail()})
			}
		}
		r.Flows = append(r.Flows, pf)
	}
	for _, res := range vt.results {
		if res.Analyzer != dataflow.Name {
			continue
		}
		for _, f := range res.Findings {
			r.Findings = append(r.Findings, api.PrivacyFinding{RuleID: f.RuleID, Severity: string(f.Severity), Message: f.Message,
				File: f.Location.File, Line: f.Location.Line, Offset: f.Location.Offset})
		}
	}
	if err := diff(ctx, st, v, vt.detail.Flows, &r.Diff); err != nil {
		return nil, err
	}
	return r, nil
}

// decider returns how each flow was decided: by the certificate once
// there is one, by the reviewers' approvals before.
func decider(ctx context.Context, st Records, v domain.Version) (func(id string) (string, []string), error) {
	if Released(v.State) {
		rec, err := st.LatestCertificate(ctx, v.ID)
		if err == nil {
			env, err := trust.ParseEnvelope(rec.Envelope)
			if err != nil {
				return nil, fmt.Errorf("the certificate of %s: %w", v.ID, err)
			}
			c, err := trust.ParseCertificate(env)
			if err != nil {
				return nil, err
			}
			who := c.Reviewers
			if len(who) == 0 {
				who = []string{"policy (auto-approved)"}
			}
			return func(id string) (string, []string) {
				switch {
				case slices.ContainsFunc(c.RefusedFlows, func(f trust.Flow) bool { return f.ID == id }):
					return "refused", slices.Clone(who)
				case slices.ContainsFunc(c.Flows, func(f trust.Flow) bool { return f.ID == id }):
					return "approved", slices.Clone(who)
				}
				// Certified before flows were listed: approved with the
				// version as a whole.
				if len(c.Flows) == 0 && len(c.RefusedFlows) == 0 {
					return "approved", slices.Clone(who)
				}
				return "pending", []string{}
			}, nil
		} else if !errors.Is(err, domain.ErrNotFound) {
			return nil, err
		}
	}
	approvals, err := st.ListApprovals(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	return func(id string) (string, []string) {
		var refused, approved []string
		for _, a := range approvals {
			if a.Refuses(id) {
				refused = append(refused, a.Reviewer)
			} else {
				approved = append(approved, a.Reviewer)
			}
		}
		if len(refused) > 0 {
			return "refused", refused
		}
		// Approvals still short of the tier's number leave it pending.
		return "pending", nonNil(approved)
	}, nil
}

// call is a host call a scenario made, as the behaviour analyzer recorded
// it.
type call struct {
	file, scenario, function, target string
}

func (c call) matches(f dataflow.Flow) bool {
	switch c.function {
	case "data_read", "data_write":
		return dataflow.Category(c.target) == f.Category
	case "http_fetch":
		u, err := url.Parse(c.target)
		return err == nil && f.Destination != manifest.DestinationPlatform && u.Scheme+"://"+u.Host == f.Destination
	}
	return false
}

func (c call) detail() string {
	return fmt.Sprintf("scenario %q called %s(%s)", c.scenario, c.function, c.target)
}

// maxCalls bounds the scenario calls a report reads.
const maxCalls = 1000

func scenarioCalls(results []vet.Result) []call {
	var out []call
	for _, r := range results {
		if r.Analyzer != behaviour.Name || len(r.Detail) == 0 {
			continue
		}
		var d behaviour.Detail
		if json.Unmarshal(r.Detail, &d) != nil {
			return nil
		}
		seen := map[call]bool{}
		for _, s := range d.Scenarios {
			for _, h := range s.HostCalls {
				c := call{file: s.File, scenario: s.Name, function: h.Function, target: h.Target}
				if seen[c] || len(out) >= maxCalls {
					continue
				}
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// diff compares the flows with those of the newest released version of the
// plugin submitted before v.
func diff(ctx context.Context, st Records, v domain.Version, flows []dataflow.Flow, d *api.PrivacyDiff) error {
	vs, err := st.ListVersions(ctx, v.PluginID)
	if err != nil {
		return err
	}
	var prev *domain.Version
	for i := range vs {
		x := &vs[i]
		if x.ID == v.ID || !Released(x.State) || !x.CreatedAt.Before(v.CreatedAt) {
			continue
		}
		if prev == nil || x.CreatedAt.After(prev.CreatedAt) {
			prev = x
		}
	}
	if prev == nil {
		for _, f := range flows {
			d.Added = append(d.Added, f.ID)
		}
		return nil
	}
	pv, err := flowsOf(ctx, st, *prev)
	if err != nil {
		return err
	}
	d.Previous = prev.Version
	old := map[string]dataflow.Flow{}
	for _, f := range pv.detail.Flows {
		old[f.ID] = f
	}
	cur := map[string]bool{}
	for _, f := range flows {
		cur[f.ID] = true
		o, ok := old[f.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, f.ID)
		case o.Purpose != f.Purpose || o.Retention != f.Retention:
			var what []string
			if o.Purpose != f.Purpose {
				what = append(what, fmt.Sprintf("purpose %q → %q", o.Purpose, f.Purpose))
			}
			if o.Retention != f.Retention {
				what = append(what, fmt.Sprintf("retention %s → %s", o.Retention, f.Retention))
			}
			d.Changed = append(d.Changed, f.ID+": "+strings.Join(what, ", "))
		}
	}
	for _, f := range pv.detail.Flows {
		if !cur[f.ID] {
			d.Removed = append(d.Removed, f.ID)
		}
	}
	return nil
}

// MaxCatalogVersions bounds the versions the steward's view reads.
const MaxCatalogVersions = 2000

// Categories is the steward's view: for every released (certified or
// suspended) version, the categories of user data it touches and where
// they go, ordered by category, then plugin.
func Categories(ctx context.Context, st Records) (*api.DataCategories, error) {
	out := &api.DataCategories{Uses: []api.DataCategoryUse{}}
	var vs []domain.Version
	for _, s := range []lifecycle.State{lifecycle.Certified, lifecycle.Suspended} {
		got, err := st.FindVersions(ctx, domain.VersionQuery{State: s, Limit: MaxCatalogVersions + 1})
		if err != nil {
			return nil, err
		}
		vs = append(vs, got...)
	}
	if len(vs) > MaxCatalogVersions {
		vs, out.Truncated = vs[:MaxCatalogVersions], true
	}
	for _, v := range vs {
		vt, err := flowsOf(ctx, st, v)
		if err != nil {
			return nil, err
		}
		byCat := map[string]*api.DataCategoryUse{}
		var order []string
		for _, f := range vt.detail.Flows {
			u, ok := byCat[f.Category]
			if !ok {
				u = &api.DataCategoryUse{Category: f.Category, Plugin: v.PluginID, Version: v.Version, State: string(v.State), Destinations: []string{}, Retention: f.Retention}
				byCat[f.Category] = u
				order = append(order, f.Category)
			}
			u.Destinations = append(u.Destinations, f.Destination)
		}
		for _, c := range order {
			out.Uses = append(out.Uses, *byCat[c])
		}
	}
	slices.SortStableFunc(out.Uses, func(a, b api.DataCategoryUse) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Plugin, b.Plugin), strings.Compare(a.Version, b.Version))
	})
	return out, nil
}

// Markdown renders a report for a privacy impact assessment.
func Markdown(r *api.PrivacyReport) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Privacy report: %s@%s\n\n", r.Plugin, r.Version)
	fmt.Fprintf(&b, "Submission %s, %s. Generated %s from the %s.\n\n", r.Submission, r.State, r.GeneratedAt.Format(time.RFC3339), map[string]string{"vetting": "last vetting run", "manifest": "manifest alone"}[r.Source])
	b.WriteString("## Data flows\n\n")
	if len(r.Flows) == 0 {
		b.WriteString("The plugin declares and reaches no user data.\n\n")
	} else {
		b.WriteString("| flow | category | destination | purpose | retention | decision | permissions |\n|---|---|---|---|---|---|---|\n")
		for _, f := range r.Flows {
			dec := f.Decision
			if len(f.DecidedBy) > 0 {
				dec += " (" + strings.Join(f.DecidedBy, ", ") + ")"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", f.ID, cell(f.Category), cell(f.Destination), cell(orNone(f.Purpose, "not declared")),
				cell(RetentionText(f)), cell(dec), cell(strings.Join(f.Permissions, ", ")))
		}
		b.WriteString("\n### Evidence\n\n")
		for _, f := range r.Flows {
			fmt.Fprintf(&b, "- `%s`\n", f.ID)
			for _, e := range f.Evidence {
				where := e.File
				switch {
				case e.Pointer != "":
					where += " " + e.Pointer
					if e.Line > 0 {
						where += fmt.Sprintf(" (line %d)", e.Line)
					}
				case e.Offset > 0:
					where += fmt.Sprintf(" at byte %d", e.Offset)
				}
				fmt.Fprintf(&b, "  - %s, %s: %s\n", e.Source, where, e.Detail)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Secrets\n\n")
	fmt.Fprintf(&b, "Declared: %s. Asked for by the module: %s.\n\n", orNone(strings.Join(r.SecretsDeclared, ", "), "none"), orNone(strings.Join(r.SecretsRequested, ", "), "none"))
	b.WriteString("## Findings\n\n")
	if len(r.Findings) == 0 {
		b.WriteString("None.\n\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "- **%s** `%s` (%s): %s\n", f.Severity, f.RuleID, f.File, f.Message)
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("## Changes since the previous version\n\n")
	if r.Diff.Previous == "" {
		b.WriteString("No earlier version was released: every flow is new.\n")
	} else {
		fmt.Fprintf(&b, "Compared with %s.\n\n", r.Diff.Previous)
		for _, l := range [][2]any{{"Added", r.Diff.Added}, {"Removed", r.Diff.Removed}, {"Changed", r.Diff.Changed}} {
			fmt.Fprintf(&b, "- %s: %s\n", l[0], orNone(strings.Join(l[1].([]string), "; "), "none"))
		}
	}
	return b.Bytes()
}

// RetentionText says a flow's retention for a reader: the duration as
// declared with its length in days, "not declared", or "(invalid)".
func RetentionText(f api.PrivacyFlow) string {
	switch {
	case f.Retention == "":
		return "not declared"
	case f.RetentionDays < 0:
		return f.Retention + " (invalid)"
	case f.RetentionDays == 0:
		return f.Retention
	}
	return fmt.Sprintf("%s (about %d days)", f.Retention, f.RetentionDays)
}

// cell keeps a value from breaking a Markdown table.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
