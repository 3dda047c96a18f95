package triage

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/lifecycle"
	"gatehouse.dev/gatehouse/internal/policy"
	prov "gatehouse.dev/gatehouse/internal/provenance"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/diff"
	"gatehouse.dev/gatehouse/manifest"
)

func mf(version string, perms []string, categories ...string) *manifest.Manifest {
	m := &manifest.Manifest{
		ManifestVersion: 1, ID: "acme/hello", Version: version, Name: "Hello",
		Owners: []manifest.Person{{Name: "Acme"}}, License: "MIT",
		Runtime:     manifest.Runtime{Module: "plugin.wasm", Exports: []string{"run"}, HostAPI: "^1.0.0"},
		Permissions: perms,
	}
	if len(categories) > 0 {
		m.Data = &manifest.DataHandling{Categories: categories, Purpose: "greeting", Retention: "none"}
	}
	return m
}

func passed(analyzer string) vet.Result {
	return vet.Result{Analyzer: analyzer, Status: vet.Passed, Findings: []vet.Finding{}, Mode: vet.DefaultMode}
}

func diffResult(t *testing.T, det diff.Detail) vet.Result {
	t.Helper()
	b, err := json.Marshal(det)
	if err != nil {
		t.Fatal(err)
	}
	r := passed(diff.Name)
	r.Detail = b
	return r
}

// facts of an update of acme/hello that changes nothing risky.
func updateFacts(t *testing.T) Facts {
	return Facts{
		Manifest: mf("1.0.2", []string{"kv:read", "net:https://api.example.com"}, "contacts"),
		Previous: mf("1.0.1", []string{"kv:read", "net:https://api.example.com"}, "contacts"),
		Results: []vet.Result{
			passed("capabilities"),
			diffResult(t, diff.Detail{PreviousVersion: "1.0.1", Module: diff.ModuleChange{ChangePercent: 1.5}, Files: diff.FileChange{Changed: []string{"plugin.wasm"}}}),
		},
		Publisher: policy.Publisher{InGoodStanding: true, AccountAgeDays: 400},
	}
}

func engine(t *testing.T) *policy.Engine {
	t.Helper()
	e, err := policy.Compile(context.Background(), policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func triage(t *testing.T, e *policy.Engine, f Facts) Verdict {
	t.Helper()
	in, err := NewInput(f)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Triage(context.Background(), e, in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUnchangedUpdateIsAutoApproved(t *testing.T) {
	t.Parallel()
	e := engine(t)
	v := triage(t, e, updateFacts(t))
	if v.Outcome != policy.AutoApproved || v.State() != lifecycle.AutoApproved {
		t.Fatalf("outcome %s, reasons %q; want auto_approved", v.Outcome, v.Reasons)
	}
	if !v.DryRun.WouldAutoApprove || !strings.HasPrefix(v.DryRun.Summary, "would auto-approve: yes, because") {
		t.Errorf("dry run %+v", v.DryRun)
	}
	if v.PolicyDigest != e.Digest() || v.Tier != policy.Low || v.CertificateLifetimeDays != 90 || len(v.Explanation) == 0 {
		t.Errorf("verdict %+v", v)
	}
}

func TestFirstVersionGoesToReview(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	f.Manifest.Version, f.Previous = "1.0.0", nil
	f.Results = []vet.Result{passed("capabilities"), {Analyzer: diff.Name, Status: vet.Skipped, Reason: "first version", Mode: vet.DefaultMode}}
	v := triage(t, engine(t), f)
	if v.Outcome != policy.InReview || v.State() != lifecycle.InReview {
		t.Fatalf("outcome %s; want in_review", v.Outcome)
	}
	if v.DryRun.WouldAutoApprove || !strings.Contains(v.DryRun.Summary, "would auto-approve: no, because not_first_version failed") {
		t.Errorf("dry run summary %q", v.DryRun.Summary)
	}
	if v.Input.Diff != nil || !v.Input.Plugin.FirstVersion {
		t.Errorf("a first version has no diff: %+v", v.Input.Diff)
	}
	// kv:read (1) + net (8) + one data category (2) + all-new code (15).
	if v.Weight.Total != 26 || v.Tier != policy.Medium {
		t.Errorf("weight %d, tier %s; want 26, medium: %+v", v.Weight.Total, v.Tier, v.Weight.Factors)
	}
}

func TestNewOriginGoesBackToReview(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	f.Manifest = mf("1.0.3", []string{"kv:read", "net:https://api.example.com", "net:https://hooks.example.org"}, "contacts")
	v := triage(t, engine(t), f)
	if v.Outcome != policy.InReview {
		t.Fatalf("outcome %s; want in_review", v.Outcome)
	}
	want := []string{
		"no_new_permission: permissions added: net:https://hooks.example.org",
		"no_new_origin: origins added: https://hooks.example.org",
	}
	if !slices.Equal(v.Reasons, want) {
		t.Errorf("reasons %q; want %q", v.Reasons, want)
	}
	if !strings.Contains(v.DryRun.Summary, "no_new_origin failed (origins added: https://hooks.example.org)") {
		t.Errorf("dry run summary %q", v.DryRun.Summary)
	}
}

func TestForbiddenPermissionIsRejectedWithPolicyMessage(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	f.Manifest = mf("1.0.3", []string{"net:http://api.example.com"}, "contacts")
	v := triage(t, engine(t), f)
	if v.Outcome != policy.Rejected || v.State() != lifecycle.Rejected {
		t.Fatalf("outcome %s; want rejected", v.Outcome)
	}
	if len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "insecure-origin: permission net:http://api.example.com fetches over plain http") ||
		!strings.Contains(v.Reasons[0], "(suggestion: ask for net:https://api.example.com instead)") {
		t.Errorf("reasons %q", v.Reasons)
	}
}

func TestBlockingFindingRejectsAndShadowFindingDoesNot(t *testing.T) {
	t.Parallel()
	e := engine(t)
	f := updateFacts(t)
	leak := vet.Finding{Analyzer: "secrets", RuleID: "secrets/aws-access-token", Severity: vet.High, Message: "an AWS key"}
	f.Results = append(f.Results, vet.Result{Analyzer: "secrets", Status: vet.Failed, Findings: []vet.Finding{leak}, Mode: vet.DefaultMode, Blocking: true})
	v := triage(t, e, f)
	if v.Outcome != policy.Rejected || !slices.Equal(v.Decision.BlockingFindings, []string{"secrets/aws-access-token"}) {
		t.Fatalf("outcome %s, blocking %v; want rejected by the finding", v.Outcome, v.Decision.BlockingFindings)
	}

	// The same finding under a rule in shadow mode is shown, weighed, and
	// does not block; the failed check still keeps a person in the loop
	// only if vetting called it blocking, which shadow mode does not.
	f.VetConfig = vet.Config{Rules: map[string]vet.Mode{"secrets/aws-access-token": {Enabled: true}}}
	f.Results[len(f.Results)-1].Blocking = false
	v = triage(t, e, f)
	if len(v.Decision.BlockingFindings) != 0 || v.Outcome == policy.Rejected {
		t.Fatalf("shadow-mode finding blocked: %s %v", v.Outcome, v.Decision.BlockingFindings)
	}
	if v.Input.Findings[0].Enforced {
		t.Error("shadow-mode finding marked enforced")
	}
}

func TestDryRunModeRecordsWhatWouldHappen(t *testing.T) {
	t.Parallel()
	p := policy.Default()
	p.Modules["config.rego"] = strings.Replace(p.Modules["config.rego"], `auto_approval_mode := "on"`, `auto_approval_mode := "dry_run"`, 1)
	e, err := policy.Compile(context.Background(), policy.New(p.Modules))
	if err != nil {
		t.Fatal(err)
	}
	v := triage(t, e, updateFacts(t))
	if v.Outcome != policy.InReview || !v.DryRun.WouldAutoApprove || v.DryRun.Mode != "dry_run" {
		t.Fatalf("outcome %s, dry run %+v; want in_review with would-auto-approve yes", v.Outcome, v.DryRun)
	}
	if !slices.Equal(v.Reasons, []string{"every auto-approval gate passed, but auto-approval is in dry-run mode"}) {
		t.Errorf("reasons %q", v.Reasons)
	}
}

func TestHighRiskNeedsTwoApprovals(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	perms := []string{"net:https://a.example.com", "net:https://b.example.com", "net:https://c.example.com", "secret:API_TOKEN", "data:write:contacts"}
	f.Manifest = mf("1.1.0", perms, "contacts")
	f.Previous = mf("1.0.1", perms, "contacts")
	f.Publisher.PriorRejections = 3 // 6
	v := triage(t, engine(t), f)
	// permissions 24+6+6 = 36 capped at 30, data 2, code 1, publisher 6.
	if v.Weight.Total != 39 || v.Tier != policy.High || v.ApprovalsRequired != 2 || v.Outcome != policy.AutoApproved {
		t.Fatalf("weight %d tier %s approvals %d outcome %s; want 39, high, 2, auto_approved (no gate failed)", v.Weight.Total, v.Tier, v.ApprovalsRequired, v.Outcome)
	}
}

func TestTriageRecomputesTheWeight(t *testing.T) {
	t.Parallel()
	in, err := NewInput(updateFacts(t))
	if err != nil {
		t.Fatal(err)
	}
	want := in.Weight
	in.Weight = policy.Weight{Total: 0, Factors: []policy.Factor{{Name: "forged", Cap: 1}}}
	v, err := Triage(context.Background(), engine(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if v.Weight.Total != want.Total || v.Input.Weight.Factors[0].Name != FactorPermissions {
		t.Fatalf("weight %+v; want the recomputed %+v", v.Weight, want)
	}
	// The stored input reads back and decides alike.
	b, _ := json.Marshal(v.Input)
	back, err := policy.ParseInput(b)
	if err != nil {
		t.Fatal(err)
	}
	d, err := engine(t).Decide(context.Background(), back)
	if err != nil || d.Outcome() != v.Outcome {
		t.Fatalf("re-deciding the stored input: %v, %v", d.Outcome(), err)
	}
}

func TestNewInput(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	f.Manifest = mf("2.0.0", []string{"kv:write", "net:https://api.example.com", "net:https://new.example.com"}, "contacts", "calendar")
	f.Manifest.Runtime.HostAPI = "^2.0.0"
	f.Manifest.License = "MIT OR AGPL-3.0-only"
	f.Previous = mf("1.0.1", []string{"kv:read", "net:https://api.example.com"}, "contacts")
	f.Results[1] = diffResult(t, diff.Detail{
		PreviousVersion: "1.0.1",
		Imports:         diff.Change{Added: []string{"gatehouse_v1.kv_set"}, Removed: []string{}},
		Module:          diff.ModuleChange{ChangePercent: -30},
		Files:           diff.FileChange{Added: []string{"a"}, Removed: []string{"b"}, Changed: []string{"c", "d"}},
	})
	sup := vet.Finding{RuleID: "origins/x", Severity: vet.Medium, Suppressed: &vet.Suppression{By: "rev"}}
	f.Results = append(f.Results, vet.Result{Analyzer: "origins", Status: vet.Passed, Findings: []vet.Finding{sup}, Mode: vet.Mode{Enabled: true, Enforced: true}})
	in, err := NewInput(f)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Diff{
		PermissionsAdded:    []string{"kv:write", "net:https://new.example.com"},
		PermissionsRemoved:  []string{"kv:read"},
		OriginsAdded:        []string{"https://new.example.com"},
		DataCategoriesAdded: []string{"calendar"},
		FlowsAdded:          []string{"calendar>platform"},
		HostAPIChanged:      true,
		PreviousHostAPI:     "^1.0.0",
		ImportsAdded:        []string{"gatehouse_v1.kv_set"},
		SizeChangePercent:   -30,
		FilesChanged:        4,
	}
	if got, _ := json.Marshal(in.Diff); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("diff\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	if !slices.EqualFunc(in.License.Choices, [][]string{{"MIT"}, {"AGPL-3.0-only"}}, slices.Equal) {
		t.Errorf("licence choices %q", in.License.Choices)
	}
	if len(in.Checks) != 3 || in.Checks[2].Required || !in.Checks[0].Required {
		t.Errorf("checks %+v", in.Checks)
	}
	if len(in.Findings) != 1 || !in.Findings[0].Suppressed || in.Findings[0].Analyzer != "origins" {
		t.Errorf("findings %+v", in.Findings)
	}
	if in.Plugin.Namespace != "acme" || in.Plugin.PreviousVersion != "1.0.1" || in.Plugin.FirstVersion {
		t.Errorf("plugin %+v", in.Plugin)
	}
	if err := in.Validate(); err != nil {
		t.Errorf("NewInput built an invalid input: %v", err)
	}
}

func TestNewInputRefusesBadFacts(t *testing.T) {
	t.Parallel()
	if _, err := NewInput(Facts{}); err == nil {
		t.Error("facts without a manifest accepted")
	}
	f := updateFacts(t)
	f.Manifest.Permissions = []string{"fs:write:/x"}
	if _, err := NewInput(f); err == nil || !strings.Contains(err.Error(), "acme/hello@1.0.2") {
		t.Errorf("error %v; want the bad permission named with the version", err)
	}
	f = updateFacts(t)
	f.Results[1].Detail = json.RawMessage(`{"imports": 7}`)
	if _, err := NewInput(f); err == nil || !strings.Contains(err.Error(), "diff analyzer") {
		t.Errorf("error %v; want the unreadable detail named", err)
	}
}

func TestUnreadableLicenceIsDenied(t *testing.T) {
	t.Parallel()
	f := updateFacts(t)
	f.Manifest.License = "MIT OR"
	v := triage(t, engine(t), f)
	if v.Outcome != policy.Rejected || v.Decision.Deny[0].Rule != "unknown-license" {
		t.Fatalf("outcome %s %+v; want rejected as unknown-license", v.Outcome, v.Decision.Deny)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestProvenanceFactsReachThePolicy: what the provenance analyzer found
// is in the policy's input, so a rule can require it; a missing or
// unreadable result gives no facts (a requirement then fails closed).
func TestProvenanceFactsReachThePolicy(t *testing.T) {
	detail, _ := json.Marshal(prov.Detail{
		Provenance: prov.ProvenanceDetail{Present: true, Verified: true, Builder: "https://builder.example", BuildType: "bt", SourceRepository: "https://github.com/acme/hello"},
		Rebuild:    prov.RebuildDetail{Attempted: true, Reproducible: true},
	})
	for _, tc := range []struct {
		name    string
		results []vet.Result
		want    policy.Provenance
	}{
		{"verified and reproducible", []vet.Result{{Analyzer: prov.AnalyzerName, Status: vet.Passed, Detail: detail}},
			policy.Provenance{Present: true, Verified: true, Builder: "https://builder.example", BuildType: "bt", SourceRepository: "https://github.com/acme/hello", Reproducible: true}},
		{"no provenance result", nil, policy.Provenance{}},
		{"an unreadable detail", []vet.Result{{Analyzer: prov.AnalyzerName, Detail: []byte(`{"provenance": 1}`)}}, policy.Provenance{}},
	} {
		in, err := NewInput(Facts{Manifest: mf("1.0.0", nil), Results: tc.results})
		if err != nil {
			t.Fatal(err)
		}
		if in.Provenance != tc.want {
			t.Errorf("%s: provenance = %+v, want %+v", tc.name, in.Provenance, tc.want)
		}
	}
}
