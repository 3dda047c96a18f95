package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/health"
	"gatehouse.dev/gatehouse/internal/hunt"
	"gatehouse.dev/gatehouse/internal/policy"
	"gatehouse.dev/gatehouse/internal/revalidate"
	"gatehouse.dev/gatehouse/internal/triage"
)

// TestWireSameJSON holds the promise that moving the answers' types into
// package api changed no byte a client reads: each conversion marshals as
// the internal value did.
func TestWireSameJSON(t *testing.T) {
	full := triage.Verdict{
		Outcome: policy.InReview, Reasons: []string{"a new origin"}, Tier: policy.High,
		Weight:            policy.Weight{Total: 7, Factors: []policy.Factor{{Name: "origins", Value: 5, Cap: 10, Reason: "one new"}}},
		ApprovalsRequired: 2, ReviewDeadlineHours: 48, CertificateLifetimeDays: 90, PolicyDigest: "sha256:ab",
		Input:       policy.Input{HostAPI: "^1", HostErrorRate: 0.25},
		Decision:    policy.Decision{BlockingFindings: []string{"r"}, Tier: policy.High, AutoApprovalMode: "on"},
		Explanation: []string{"rule x fired"},
		DryRun:      triage.DryRun{Mode: "dry_run", Summary: "would auto-approve: no", FailedGates: []policy.Gate{{Name: "tier", Reason: "high"}}},
	}
	rep := hunt.Report{Scanned: 3, Unreadable: []string{"x: gone"}, Hits: []hunt.Hit{{
		VersionID: "s1", Plugin: "acme/a", Version: "1.0.0", State: "certified",
		Matches: []hunt.Match{{RuleID: "h1", Kind: "content", File: "m.wasm", Offset: 9, Subject: "AKIA…", Digest: "d"}},
	}}}
	diffs := []policy.Difference{{Index: 2, Plugin: "acme/a", Version: "1.0.0", Current: policy.InReview, Proposed: policy.Rejected,
		Changes: []policy.Change{{Field: "outcome", Current: "in_review", Proposed: "rejected"}}, ProposedErr: "x"}}
	impact := []revalidate.Impact{{VersionID: "s1", Plugin: "acme/a", Version: "1.0.0", Tier: "low", Problems: []string{"p"}}}
	outcomes := []health.Outcome{{Plugin: "acme/a", Version: "1.0.0", ErrorRate: 0.5, Alert: true, Reasons: []string{"r"}}, {Plugin: "acme/b"}}
	// dryRun is the answer as the server wrote it before: a map, with an
	// empty list where nothing would be suspended.
	dryRun := func(diffs []policy.Difference, impact []revalidate.Impact) map[string]any {
		var suspend any = []any{}
		if impact != nil {
			suspend = impact
		}
		return map[string]any{"proposed": "sha256:p", "active": "sha256:a", "differences": diffs, "wouldSuspend": suspend}
	}
	for _, c := range []struct {
		name      string
		internal  any
		converted any
	}{
		{"full verdict", full, verdictJSON(full)},
		{"empty verdict", triage.Verdict{}, verdictJSON(triage.Verdict{})},
		{"hunt report", rep, huntReportJSON(rep)},
		{"empty hunt report", hunt.Report{}, huntReportJSON(hunt.Report{})},
		{"dry run", dryRun(diffs, impact), policyDryRunJSON("sha256:p", "sha256:a", diffs, impact)},
		{"empty dry run", dryRun(nil, nil), policyDryRunJSON("sha256:p", "sha256:a", nil, nil)},
		{"health answer", map[string]any{"plugins": outcomes}, healthAnswer(outcomes)},
		{"empty health answer", map[string]any{"plugins": []health.Outcome(nil)}, healthAnswer(nil)},
	} {
		want, err := json.Marshal(c.internal)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(c.converted)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the API's JSON differs\n got %s\nwant %s", c.name, got, want)
		}
	}
}

// TestHealthReportShape holds api.HealthReport, which hosts write, to the
// shape the server parses (health.ParseReport refuses unknown fields).
func TestHealthReportShape(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	in := api.HealthReport{WindowStart: at, WindowEnd: at.Add(time.Hour), Plugins: []api.PluginHealth{
		{Plugin: "acme/a", Version: "1.0.0", Calls: 10, Errors: map[string]int64{"trap": 2}, Denials: 1, BreakerTrips: 1},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := health.ParseReport(b, at.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("the server refuses the API's report: %v", err)
	}
	back, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, b) {
		t.Errorf("the report changed on the way\n got %s\nwant %s", back, b)
	}
}
