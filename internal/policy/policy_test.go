package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// engine compiles the default policy once per test binary run of a test.
func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := Compile(context.Background(), Default())
	if err != nil {
		t.Fatalf("compiling the default policy: %v", err)
	}
	return e
}

func intp(n int) *int { return &n }

// baseInput is an update that passes every gate of the default policy.
// Tests change one thing of it at a time.
func baseInput() Input {
	return Input{
		Plugin:      Plugin{ID: "acme/hello", Namespace: "acme", Version: "1.0.2", PreviousVersion: "1.0.1"},
		Permissions: []Permission{{Kind: "kv:read"}, {Kind: "net", Scope: "https://api.example.com"}},
		Data:        Data{Categories: []string{"contacts"}},
		License:     License{Expression: "MIT", Choices: [][]string{{"MIT"}}},
		HostAPI:     "^1.0.0",
		Checks: []Check{
			{Analyzer: "capabilities", Status: "passed", Required: true, Enforced: true},
			{Analyzer: "diff", Status: "passed", Required: true, Enforced: true},
		},
		Diff:            &Diff{PreviousHostAPI: "^1.0.0", SizeChangePercent: 2.5, FilesChanged: 1},
		Publisher:       Publisher{InGoodStanding: true, AccountAgeDays: 400},
		AutoApprovalOff: AutoApprovalOff{},
		HostErrorRate:   0.001,
		Weight:          weightOf(5),
	}
}

func weightOf(total int) Weight {
	return Weight{Total: total, Factors: []Factor{{Name: "test", Value: total, Cap: 110, Reason: "set by the test"}}}
}

func decide(t *testing.T, e *Engine, in Input) Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

func TestDefaultPolicyTestsPass(t *testing.T) {
	t.Parallel()
	rep, err := Test(context.Background(), Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Passed < 30 {
		t.Errorf("the default policy ran %d tests; want its full suite (30 or more)", rep.Passed)
	}
	for _, r := range rep.Results {
		if (r.File != "policy_test.rego" && r.File != "release_test.rego") || r.Line == 0 || !strings.HasPrefix(r.Name, "test_") {
			t.Errorf("test result %+v lacks its file, line or name", r)
		}
	}
}

func TestBaselineIsAutoApproved(t *testing.T) {
	t.Parallel()
	d := decide(t, engine(t), baseInput())
	if d.Outcome() != AutoApproved || !d.AutoApproveAllowed || !d.WouldAutoApprove {
		t.Fatalf("outcome %s (allowed %v); want auto_approved; explanation: %q", d.Outcome(), d.AutoApproveAllowed, d.Explanation)
	}
	if len(d.Gates) != 11 {
		t.Errorf("the policy reported %d gates; want all 11, passed or not", len(d.Gates))
	}
	for _, g := range d.Gates {
		if !g.Passed || g.Reason == "" {
			t.Errorf("gate %+v: want passed with a reason", g)
		}
	}
	if d.Tier != Low || d.ApprovalsRequired != 1 || d.ReviewDeadlineHours != 24 || d.CertificateLifetimeDays != 90 {
		t.Errorf("low tier settings: got %+v", d)
	}
}

func TestEachGateFailsAlone(t *testing.T) {
	t.Parallel()
	e := engine(t)
	cases := []struct {
		gate   string
		change func(*Input)
		reason string // a part of the gate's reason
	}{
		{"no_blocking_finding", func(in *Input) {
			in.Findings = []Finding{{Analyzer: "secrets", RuleID: "secrets/aws-access-token", Severity: "high", Enforced: true}}
		}, "secrets/aws-access-token"},
		{"required_checks_passed", func(in *Input) { in.Checks[1].Status = "errored"; in.Checks[1].Blocking = true }, "diff is errored"},
		{"required_checks_passed", func(in *Input) { in.Checks = nil }, "no vetting results"},
		{"not_first_version", func(in *Input) { in.Plugin.FirstVersion = true; in.Plugin.PreviousVersion = "" }, "first version"},
		{"no_new_permission", func(in *Input) { in.Diff.PermissionsAdded = []string{"kv:write"} }, "kv:write"},
		{"no_new_origin", func(in *Input) { in.Diff.OriginsAdded = []string{"https://new.example.com"} }, "https://new.example.com"},
		{"no_new_data_category", func(in *Input) { in.Diff.DataCategoriesAdded = []string{"calendar"} }, "calendar"},
		{"no_host_api_change", func(in *Input) { in.HostAPI = "^2.0.0"; in.Diff.HostAPIChanged = true }, `"^1.0.0" to "^2.0.0"`},
		{"publisher_in_good_standing", func(in *Input) { in.Publisher.InGoodStanding = false }, "not in good standing"},
		{"no_recent_ownership_or_key_change", func(in *Input) { in.Publisher.OwnershipChangedDaysAgo = intp(13) }, "ownership changed 13 day(s) ago"},
		{"no_recent_ownership_or_key_change", func(in *Input) { in.Publisher.KeyChangedDaysAgo = intp(0) }, "key changed 0 day(s) ago"},
		{"auto_approval_not_switched_off", func(in *Input) { in.AutoApprovalOff.Plugin = true }, "the plugin"},
		{"auto_approval_not_switched_off", func(in *Input) { in.AutoApprovalOff.Namespace = true }, "the namespace"},
	}
	for _, c := range cases {
		t.Run(c.gate+"/"+c.reason, func(t *testing.T) {
			t.Parallel()
			in := baseInput()
			in.Diff = new(*in.Diff) // cases change the diff; keep baseInput's untouched
			c.change(&in)
			d := decide(t, e, in)
			var failed []Gate
			for _, g := range d.Gates {
				if !g.Passed {
					failed = append(failed, g)
				}
			}
			if c.gate == "not_first_version" {
				// A first version has nothing to compare with, so the
				// change gates fail with it.
				if !slices.ContainsFunc(failed, func(g Gate) bool { return g.Name == c.gate }) {
					t.Fatalf("failed gates %+v do not include %s", failed, c.gate)
				}
			} else if len(failed) != 1 || failed[0].Name != c.gate {
				t.Fatalf("failed gates %+v; want only %s", failed, c.gate)
			}
			if g := failed[0]; c.gate != "not_first_version" && !strings.Contains(g.Reason, c.reason) {
				t.Errorf("gate %s reason %q does not mention %q", g.Name, g.Reason, c.reason)
			}
			if d.AutoApproveAllowed || d.WouldAutoApprove {
				t.Error("auto-approval allowed although a gate failed")
			}
			if want := InReview; c.gate != "no_blocking_finding" && d.Outcome() != want {
				t.Errorf("outcome %s; want %s", d.Outcome(), want)
			}
			if !slices.ContainsFunc(d.Explanation, func(s string) bool { return strings.Contains(s, "gate "+c.gate+" failed") }) {
				t.Errorf("explanation %q does not say gate %s failed", d.Explanation, c.gate)
			}
		})
	}
}

func TestKeyChangeOutsideQuietPeriodPasses(t *testing.T) {
	t.Parallel()
	in := baseInput()
	in.Publisher.KeyChangedDaysAgo = intp(14)
	in.Publisher.OwnershipChangedDaysAgo = intp(200)
	if d := decide(t, engine(t), in); d.Outcome() != AutoApproved {
		t.Fatalf("outcome %s; a change 14 days ago is outside the 14-day quiet period", d.Outcome())
	}
}

func TestDenyRules(t *testing.T) {
	t.Parallel()
	e := engine(t)
	cases := []struct {
		name       string
		change     func(*Input)
		rule       string
		message    string // a part of the message
		suggestion string // a part of the suggestion
	}{
		{"plain http origin", func(in *Input) { in.Permissions = []Permission{{Kind: "net", Scope: "http://api.example.com:8080"}} },
			"insecure-origin", "net:http://api.example.com:8080 fetches over plain http", "ask for net:https://api.example.com:8080 instead"},
		{"loopback origin", func(in *Input) { in.Permissions = []Permission{{Kind: "net", Scope: "https://127.0.0.1:9000"}} },
			"forbidden-origin", "reaches 127.0.0.1", "public https://"},
		{"metadata service", func(in *Input) { in.Permissions = []Permission{{Kind: "net", Scope: "https://169.254.169.254"}} },
			"forbidden-origin", "169.254.169.254", "public https://"},
		{"ipv6 loopback", func(in *Input) { in.Permissions = []Permission{{Kind: "net", Scope: "https://[::1]:8443"}} },
			"forbidden-origin", "reaches ::1", "public https://"},
		{"internal name", func(in *Input) { in.Permissions = []Permission{{Kind: "net", Scope: "https://vault.corp.internal"}} },
			"forbidden-origin", "vault.corp.internal", "public https://"},
		{"reserved secret", func(in *Input) { in.Permissions = []Permission{{Kind: "secret", Scope: "GATEHOUSE_DB_PASSWORD"}} },
			"reserved-secret", "secret:GATEHOUSE_DB_PASSWORD", "secret:MY_PLUGIN_TOKEN"},
		{"health data", func(in *Input) { in.Data.Categories = []string{"health"} },
			"forbidden-data-category", `data category "health" is not allowed`, "de-identified"},
		{"biometric data", func(in *Input) { in.Data.Categories = []string{"biometric"} },
			"forbidden-data-category", `"biometric"`, "sign-in"},
		{"unlisted data", func(in *Input) { in.Data.Categories = []string{"horoscopes"} },
			"forbidden-data-category", `"horoscopes"`, "account, analytics, calendar"},
		{"AGPL", func(in *Input) {
			in.License = License{Expression: "AGPL-3.0-only", Choices: [][]string{{"AGPL-3.0-only"}}}
		},
			"forbidden-license", "AGPL-3.0-only", "MIT, Apache-2.0 or BSD-3-Clause"},
		{"AND with SSPL", func(in *Input) {
			in.License = License{Expression: "MIT AND SSPL-1.0", Choices: [][]string{{"MIT", "SSPL-1.0"}}}
		}, "forbidden-license", "SSPL-1.0", "permissive"},
		{"unreadable licence", func(in *Input) { in.License = License{Expression: "MIT OR"} },
			"unknown-license", `"MIT OR"`, "SPDX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := baseInput()
			c.change(&in)
			d := decide(t, e, in)
			if len(d.Deny) != 1 {
				t.Fatalf("violations %+v; want exactly one %s", d.Deny, c.rule)
			}
			v := d.Deny[0]
			if v.Rule != c.rule || !strings.Contains(v.Message, c.message) || !strings.Contains(v.Suggestion, c.suggestion) {
				t.Errorf("violation %+v; want rule %s, message with %q, suggestion with %q", v, c.rule, c.message, c.suggestion)
			}
			if d.Outcome() != Rejected || d.AutoApproveAllowed {
				t.Errorf("outcome %s; want rejected", d.Outcome())
			}
		})
	}
}

func TestAllowedThingsAreNotDenied(t *testing.T) {
	t.Parallel()
	e := engine(t)
	in := baseInput()
	in.Permissions = []Permission{
		{Kind: "net", Scope: "https://93.184.216.34"}, {Kind: "net", Scope: "https://local.example.com"},
		{Kind: "secret", Scope: "SLACK_TOKEN"}, {Kind: "kv:write"}, {Kind: "data:read", Scope: "contacts"},
	}
	in.License = License{Expression: "MIT OR AGPL-3.0-only", Choices: [][]string{{"MIT"}, {"AGPL-3.0-only"}}}
	in.Data.Categories = []string{"calendar", "contacts"}
	if d := decide(t, e, in); len(d.Deny) != 0 {
		t.Fatalf("violations %+v; want none", d.Deny)
	}
}

func TestForbiddenPermissionKindFromPolicyData(t *testing.T) {
	t.Parallel()
	e := compileWithConfig(t, `forbidden_permission_kinds := {}`,
		`forbidden_permission_kinds := {"kv:write": {"message": "plugins here are read-only", "suggestion": "keep state in the host's records"}}`)
	in := baseInput()
	in.Permissions = append(in.Permissions, Permission{Kind: "kv:write"})
	d := decide(t, e, in)
	want := Violation{Rule: "forbidden-permission", Message: "permission kv:write: plugins here are read-only", Suggestion: "keep state in the host's records"}
	if len(d.Deny) != 1 || d.Deny[0] != want {
		t.Fatalf("violations %+v; want %+v", d.Deny, want)
	}
}

func TestBlockingFindings(t *testing.T) {
	t.Parallel()
	e := engine(t)
	f := func(sev string, suppressed, enforced bool) Finding {
		return Finding{Analyzer: "secrets", RuleID: "secrets/" + sev, Severity: sev, Suppressed: suppressed, Enforced: enforced}
	}
	cases := []struct {
		finding Finding
		blocks  bool
		outcome Outcome
	}{
		{f("critical", false, true), true, Rejected},
		{f("high", false, true), true, Rejected},
		{f("high", true, true), false, AutoApproved},   // a reviewer marked it a false positive
		{f("high", false, false), false, AutoApproved}, // shadow mode: shown, never blocks
		{f("medium", false, true), false, AutoApproved},
		{f("low", false, true), false, AutoApproved},
	}
	for _, c := range cases {
		in := baseInput()
		in.Findings = []Finding{c.finding}
		d := decide(t, e, in)
		if got := len(d.BlockingFindings) == 1; got != c.blocks || d.Outcome() != c.outcome {
			t.Errorf("%+v: blocking %v, outcome %s; want blocking %v, outcome %s", c.finding, d.BlockingFindings, d.Outcome(), c.blocks, c.outcome)
		}
	}
}

func TestTierBoundaries(t *testing.T) {
	t.Parallel()
	e := engine(t)
	cases := []struct {
		weight    int
		tier      Tier
		approvals int
		hours     int
		days      int
	}{
		{0, Low, 1, 24, 90}, {14, Low, 1, 24, 90},
		{15, Medium, 1, 72, 60}, {34, Medium, 1, 72, 60},
		{35, High, 2, 120, 30}, {59, High, 2, 120, 30},
		{60, Critical, 2, 168, 14}, {110, Critical, 2, 168, 14},
	}
	for _, c := range cases {
		in := baseInput()
		in.Weight = weightOf(c.weight)
		d := decide(t, e, in)
		if d.RevalidationDays < 1 || d.RevalidationDays >= d.CertificateLifetimeDays || d.RemediationDays < 1 {
			t.Errorf("weight %d: revalidation every %d days, remediation %d days, certificate %d days; want revalidation before expiry", c.weight, d.RevalidationDays, d.RemediationDays, d.CertificateLifetimeDays)
		}
		if d.Tier != c.tier || d.ApprovalsRequired != c.approvals || d.ReviewDeadlineHours != c.hours || d.CertificateLifetimeDays != c.days {
			t.Errorf("weight %d: tier %s, %d approvals, %dh, %dd; want %s, %d, %dh, %dd",
				c.weight, d.Tier, d.ApprovalsRequired, d.ReviewDeadlineHours, d.CertificateLifetimeDays, c.tier, c.approvals, c.hours, c.days)
		}
	}
}

func TestDryRunModeRecordsWithoutApproving(t *testing.T) {
	t.Parallel()
	e := compileWithConfig(t, `auto_approval_mode := "on"`, `auto_approval_mode := "dry_run"`)
	d := decide(t, e, baseInput())
	if !d.WouldAutoApprove || d.AutoApproveAllowed || d.Outcome() != InReview || d.AutoApprovalMode != "dry_run" {
		t.Fatalf("dry-run mode: would %v, allowed %v, outcome %s; want true, false, in_review", d.WouldAutoApprove, d.AutoApproveAllowed, d.Outcome())
	}
}

// compileWithConfig compiles the default policy with one line of its
// config.rego replaced.
func compileWithConfig(t *testing.T, old, new string) *Engine {
	t.Helper()
	p := Default()
	src := p.Modules["config.rego"]
	if !strings.Contains(src, old) {
		t.Fatalf("config.rego has no %q", old)
	}
	p.Modules["config.rego"] = strings.Replace(src, old, new, 1)
	e, err := Compile(context.Background(), New(p.Modules))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCompileErrorHasFileLineColumn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.rego", "package gatehouse\n\ndecision := {}\n")
	write("broken.rego", "package gatehouse.extra\n\nallow if {\n\tinput.x ==\n}\n")
	write("README.md", "not a policy file")
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Modules) != 2 {
		t.Fatalf("Load read %d files; want the 2 .rego files", len(p.Modules))
	}
	_, err = Compile(context.Background(), p)
	var ces CompileErrors
	if !errors.As(err, &ces) {
		t.Fatalf("Compile error %v (%T); want CompileErrors", err, err)
	}
	var ce *CompileError
	if !errors.As(err, &ce) || ce.File != "broken.rego" || ce.Line != 5 || ce.Col != 1 {
		t.Fatalf("first problem %+v; want broken.rego:5:1", ce)
	}
	if !strings.Contains(err.Error(), "broken.rego:5:1: ") {
		t.Errorf("message %q does not name the place", err)
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	t.Parallel()
	// Problems of one kind are all reported: parse errors across files, and
	// compile errors of one stage across files (later stages run only once
	// earlier ones pass, as in `opa check`).
	for name, files := range map[string]map[string]string{
		"parse": {
			"a.rego": "package gatehouse\n\ndecision := {\n",
			"b.rego": "package gatehouse.b\n\ny := [1,\n",
		},
		"compile": {
			"a.rego": "package gatehouse\n\ndecision := missing_fn(1)\n",
			"b.rego": "package gatehouse.b\n\ny := undefined_fn(1)\n",
		},
	} {
		_, err := Compile(context.Background(), New(files))
		var ces CompileErrors
		if !errors.As(err, &ces) || len(ces) < 2 {
			t.Fatalf("%s: error %v; want a problem in each file", name, err)
		}
		seen := map[string]bool{}
		for _, ce := range ces {
			if ce.Line > 0 && ce.Col > 0 {
				seen[ce.File] = true
			}
		}
		if !seen["a.rego"] || !seen["b.rego"] {
			t.Errorf("%s: problems %v; want a.rego and b.rego with lines and columns", name, ces)
		}
	}
}

func TestCompileRefusesPolicyWithoutDecision(t *testing.T) {
	t.Parallel()
	_, err := Compile(context.Background(), New(map[string]string{"p.rego": "package other\n\nx := 1\n"}))
	if err == nil || !strings.Contains(err.Error(), "defines no decision") {
		t.Fatalf("error %v; want one saying the decision rule is missing", err)
	}
}

func TestCompileRefusesNondeterministicBuiltins(t *testing.T) {
	t.Parallel()
	for _, call := range []string{`http.send({"method": "get", "url": "https://example.com"})`, `time.now_ns()`, `rand.intn("x", 10)`} {
		src := "package gatehouse\n\ndecision := " + call + "\n"
		_, err := Compile(context.Background(), New(map[string]string{"p.rego": src}))
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Line != 3 {
			t.Errorf("%s: error %v; want a compile error at line 3", call, err)
		}
	}
}

func TestCompileRefusesTamperedDigest(t *testing.T) {
	t.Parallel()
	p := Default()
	p.Modules["config.rego"] += "\n# edited after the digest was taken\n"
	if _, err := Compile(context.Background(), p); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("error %v; want a digest mismatch", err)
	}
}

func TestFailingRegoTestIsReported(t *testing.T) {
	t.Parallel()
	p := Default()
	p.Modules["extra_test.rego"] = "package gatehouse_test\n\nimport data.gatehouse\n\n" +
		"test_passes if {\n\tgatehouse.decision.tier == \"low\" with input as base\n}\n\n" +
		"test_wrong if {\n\tgatehouse.decision.tier == \"critical\" with input as base\n}\n"
	rep, err := Test(context.Background(), New(p.Modules))
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if err == nil || rep.Failed != 1 {
		t.Fatalf("report %d passed, %d failed, error %v; want test_wrong failing", rep.Passed, rep.Failed, err)
	}
	if !strings.Contains(err.Error(), "extra_test.rego:9: data.gatehouse_test.test_wrong: FAIL") {
		t.Errorf("error %q does not name the failing test's file and line", err)
	}
}

func TestPolicyWithoutTestsIsRefused(t *testing.T) {
	t.Parallel()
	p := Default()
	delete(p.Modules, "policy_test.rego")
	delete(p.Modules, "release_test.rego")
	rep, err := Test(context.Background(), New(p.Modules))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() == nil {
		t.Fatal("a policy with no tests passed")
	}
}

func TestTestReportsCompileErrors(t *testing.T) {
	t.Parallel()
	_, err := Test(context.Background(), New(map[string]string{"x_test.rego": "package x\n\ntest_a if {\n"}))
	var ce *CompileError
	if !errors.As(err, &ce) || ce.File != "x_test.rego" {
		t.Fatalf("error %v; want a compile error in x_test.rego", err)
	}
}

func TestDryRunReportsExactlyTheChangedInputs(t *testing.T) {
	t.Parallel()
	cur := engine(t)
	proposed := compileWithConfig(t, `forbidden_permission_kinds := {}`,
		`forbidden_permission_kinds := {"kv:write": {"message": "plugins here are read-only"}}`)

	var inputs []Input
	for i, perms := range [][]Permission{
		{{Kind: "kv:read"}},
		{{Kind: "kv:write"}}, // the one the proposed policy rejects
		{{Kind: "net", Scope: "https://api.example.com"}},
	} {
		in := baseInput()
		in.Plugin.Version = []string{"1.0.0", "2.0.0", "3.0.0"}[i]
		in.Permissions = perms
		inputs = append(inputs, in)
	}
	diffs, err := DryRun(context.Background(), cur, proposed, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].Index != 1 || diffs[0].Version != "2.0.0" {
		t.Fatalf("differences %+v; want only input 1", diffs)
	}
	d := diffs[0]
	if d.Current != AutoApproved || d.Proposed != Rejected {
		t.Errorf("outcomes %s → %s; want auto_approved → rejected", d.Current, d.Proposed)
	}
	fields := map[string]Change{}
	for _, c := range d.Changes {
		fields[c.Field] = c
	}
	for _, f := range []string{"outcome", "deny", "would_auto_approve", "auto_approve_allowed"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("changes %+v lack %s", d.Changes, f)
		}
	}
	if c := fields["deny"]; c.Current != "[]" || !strings.Contains(c.Proposed, "read-only") {
		t.Errorf("deny change %+v", c)
	}
	if _, ok := fields["tier"]; ok {
		t.Error("tier reported as changed although it is not")
	}

	same, err := DryRun(context.Background(), cur, engine(t), inputs)
	if err != nil || len(same) != 0 {
		t.Fatalf("dry run of a policy against itself: %+v, %v; want no differences", same, err)
	}
}

func TestDryRunShowsAPolicyThatFailsToDecide(t *testing.T) {
	t.Parallel()
	// The proposed policy drops the tier settings, so its decision is
	// undefined: the steward must see that before applying it.
	proposed := compileWithConfig(t, `"low": {"approvals": 1, "review_deadline_hours": 24, "certificate_lifetime_days": 90, "revalidation_days": 30, "remediation_days": 30},`, ``)
	diffs, err := DryRun(context.Background(), engine(t), proposed, []Input{baseInput()})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].ProposedErr == "" || diffs[0].CurrentErr != "" {
		t.Fatalf("differences %+v; want the proposed policy's failure", diffs)
	}
}

func TestDecideRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := engine(t)
	cases := map[string]func(*Input){
		"no weight":                         func(in *Input) { in.Weight = Weight{} },
		"weight total is off":               func(in *Input) { in.Weight.Total++ },
		"factor over its cap":               func(in *Input) { in.Weight = Weight{Total: 50, Factors: []Factor{{Name: "x", Value: 50, Cap: 10}}} },
		"error rate above 1":                func(in *Input) { in.HostErrorRate = 1.5 },
		"unknown severity":                  func(in *Input) { in.Findings = []Finding{{RuleID: "r", Severity: "urgent"}} },
		"no plugin id":                      func(in *Input) { in.Plugin.ID = "" },
		"first version with a previous one": func(in *Input) { in.Plugin.FirstVersion = true },
		"too many permissions": func(in *Input) {
			in.Permissions = make([]Permission, MaxListLen+1)
			for i := range in.Permissions {
				in.Permissions[i] = Permission{Kind: "kv:read"}
			}
		},
	}
	for name, change := range cases {
		in := baseInput()
		change(&in)
		if _, err := e.Decide(context.Background(), in); err == nil || !strings.Contains(err.Error(), "invalid policy input") {
			t.Errorf("%s: error %v; want the input refused", name, err)
		}
	}
}

func TestDecideRefusesUnsoundDecisions(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"undefined":                     "decision := x if { x := 1; input.nothing }\n",
		"no approvals":                  `decision := {"tier": "low", "auto_approval_mode": "on", "gates": [{"name": "g", "passed": true, "reason": ""}], "approvals_required": 0, "review_deadline_hours": 1, "certificate_lifetime_days": 1}` + "\n",
		"unknown tier":                  `decision := {"tier": "meh", "auto_approval_mode": "on", "gates": [{"name": "g", "passed": true, "reason": ""}], "approvals_required": 1, "review_deadline_hours": 1, "certificate_lifetime_days": 1}` + "\n",
		"approve despite a failed gate": `decision := {"tier": "low", "auto_approval_mode": "on", "auto_approve_allowed": true, "would_auto_approve": true, "gates": [{"name": "g", "passed": false, "reason": ""}], "approvals_required": 1, "review_deadline_hours": 1, "certificate_lifetime_days": 1}` + "\n",
		"ten-year certificate":          `decision := {"tier": "low", "auto_approval_mode": "on", "gates": [{"name": "g", "passed": true, "reason": ""}], "approvals_required": 1, "review_deadline_hours": 1, "certificate_lifetime_days": 3650}` + "\n",
		"no revalidation":               sound(`"revalidation_days": 0`),
		"revalidation after expiry":     sound(`"revalidation_days": 31`),
		"no remediation deadline":       sound(`"remediation_days": 0`),
		"year-long remediation":         sound(`"remediation_days": 365`),
		"error rate threshold above 1":  sound(`"host_health": {"max_error_rate": 1.5, "max_breaker_trips": 1, "min_calls": 1}`),
		"no host health thresholds":     sound(`"host_health": {}`),
	}
	for name, rule := range cases {
		e, err := Compile(context.Background(), New(map[string]string{"p.rego": "package gatehouse\n\n" + rule}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d, err := e.Decide(context.Background(), baseInput()); err == nil {
			t.Errorf("%s: decision %+v accepted", name, d)
		}
	}
}

// sound is a decision every check accepts, with one field replaced (a
// Rego object literal takes the last of repeated keys, so the override wins).
func sound(override string) string {
	return `decision := {"tier": "low", "auto_approval_mode": "dry_run", "gates": [{"name": "g", "passed": true, "reason": ""}], "approvals_required": 1, "review_deadline_hours": 1, "certificate_lifetime_days": 30, "revalidation_days": 7, "remediation_days": 14, "host_health": {"max_error_rate": 0.05, "max_breaker_trips": 3, "min_calls": 100}, ` + override + `}` + "\n"
}

func TestSoundDecisionIsAccepted(t *testing.T) {
	t.Parallel()
	// The base of the unsound cases above must itself be accepted, or they
	// prove nothing.
	e, err := Compile(context.Background(), New(map[string]string{"p.rego": "package gatehouse\n\n" + sound(`"remediation_days": 14`)}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), baseInput())
	if err != nil {
		t.Fatalf("a sound decision was refused: %v", err)
	}
	if d.RevalidationDays != 7 || d.RemediationDays != 14 || d.HostHealth.MaxBreakerTrips != 3 {
		t.Fatalf("decision %+v; want revalidation 7, remediation 14, 3 trips", d)
	}
}

func TestConcurrentDecide(t *testing.T) {
	t.Parallel()
	e := engine(t)
	inputs := []Input{baseInput(), baseInput(), baseInput()}
	inputs[1].Permissions = []Permission{{Kind: "net", Scope: "http://insecure.example.com"}}
	inputs[2].Weight = weightOf(70)
	want := make([]Decision, len(inputs))
	for i, in := range inputs {
		want[i] = decide(t, e, in)
	}
	const workers, rounds = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for r := range rounds {
				i := (w + r) % len(inputs)
				d, err := e.Decide(context.Background(), inputs[i])
				if err == nil && (d.Tier != want[i].Tier || d.Outcome() != want[i].Outcome() || len(d.Deny) != len(want[i].Deny)) {
					err = errors.New("a concurrent decision differs from the sequential one")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecideStopsWhenContextIsDone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := engine(t).Decide(ctx, baseInput()); err == nil {
		t.Fatal("Decide succeeded with a canceled context")
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	a := Default()
	if a.Digest != Default().Digest || !strings.HasPrefix(a.Digest, "sha256:") || len(a.Digest) != len("sha256:")+64 {
		t.Fatalf("default digest %q is not a stable sha256", a.Digest)
	}
	m := a.Modules
	// Moving bytes between a file name and its content must change the
	// digest.
	d1 := ComputeDigest(map[string]string{"a.rego": "bc"})
	d2 := ComputeDigest(map[string]string{"ab.rego": "c"})
	d3 := ComputeDigest(map[string]string{"a.rego": "bc", "b.rego": ""})
	if d1 == d2 || d1 == d3 {
		t.Error("different file lists share a digest")
	}
	m["config.rego"] += " "
	if New(m).Digest == a.Digest {
		t.Error("editing a file kept the digest")
	}
	e := engine(t)
	if e.Digest() != a.Digest {
		t.Errorf("engine digest %s; want %s", e.Digest(), a.Digest)
	}
}

func TestLoadRefusesLinksAndEmptyFolders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Error("an empty folder loaded as a policy")
	}
	target := filepath.Join(t.TempDir(), "secret.rego")
	os.WriteFile(target, []byte("package x\n"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, "link.rego")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("error %v; want the link refused", err)
	}
}

func TestLoadRefusesLargeFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.rego"), make([]byte, MaxFileBytes+1), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error %v; want the file refused for its size", err)
	}
}

func TestParseInput(t *testing.T) {
	t.Parallel()
	in := baseInput()
	in.Publisher.KeyChangedDaysAgo = intp(3)
	b, err := jsonMarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseInput(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := jsonMarshal(got)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the input:\n%s\n%s", b, b2)
	}
	for name, data := range map[string]string{
		"unknown field":  `{"plugin": {"id": "a/b", "version": "1"}, "surprise": 1}`,
		"trailing data":  string(b) + "{}",
		"too large":      `{"x": "` + strings.Repeat("a", MaxInputBytes) + `"}`,
		"invalid values": `{"plugin": {"id": "a/b", "version": "1", "first_version": true}, "host_error_rate": 7}`,
	} {
		if _, err := ParseInput([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRegoTestsCatchAChangedSetting(t *testing.T) {
	t.Parallel()
	// Shortening the quiet period after a key change is a policy change the
	// shipped tests must notice.
	p := Default()
	p.Modules["config.rego"] = strings.Replace(p.Modules["config.rego"], "ownership_change_quiet_days := 14", "ownership_change_quiet_days := 7", 1)
	rep, err := Test(context.Background(), New(p.Modules))
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if err == nil || !strings.Contains(err.Error(), "test_gate_recent_key_change") {
		t.Fatalf("tests after the change: %v; want test_gate_recent_key_change to fail", err)
	}
}

// TestInputValueMatchesJSON keeps the hand-built Rego value of an input in
// step with its JSON encoding, which is what stewards read and what is
// stored: a field added to Input but not to value() fails here.
func TestInputValueMatchesJSON(t *testing.T) {
	t.Parallel()
	in := baseInput()
	in.Findings = []Finding{{Analyzer: "a", RuleID: "a/b", Severity: "high", Suppressed: true, Enforced: true}}
	in.Publisher.KeyChangedDaysAgo = intp(3)
	in.Diff.ImportsAdded = []string{"gatehouse_v1.kv_set"}
	in.Diff.SizeChangePercent = -12.25
	in.HostErrorRate = 0.125
	for _, in := range []Input{in, {Plugin: Plugin{ID: "a/b", Version: "1", FirstVersion: true}}} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got := in.value()
		// JSON has null where Go has a nil list; Rego sees [] instead.
		wantText := strings.ReplaceAll(want.String(), "null", "[]")
		gotText := strings.ReplaceAll(got.String(), "null", "[]")
		if gotText != wantText {
			t.Errorf("value and JSON differ:\n got %s\nwant %s", gotText, wantText)
		}
	}
}

// TestReleaseDecisions drives the default policy's release rules through
// the engine (their Rego tests cover each rule): a promotion that soaked is
// allowed, one that did not is refused naming its rule, three failing
// hosts halt a rollout, and a policy without release rules refuses every
// promotion (deny by default).
func TestReleaseDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := Compile(ctx, Default())
	if err != nil {
		t.Fatal(err)
	}
	var in PromotionInput
	in.Plugin.ID, in.Plugin.Version, in.Plugin.RiskTier = "acme/hello", "1.1.0", "low"
	in.From, in.To, in.ToIndex, in.Rollout = "dev", "staging", 1, 100
	in.Previous.Present, in.Previous.SinceHours, in.Previous.Rollout, in.Previous.Status = true, 2, 100, "active"
	in.Health = NewHealthFacts(1, []HostHealthFacts{{Host: "h1", Calls: 200}})
	d, err := e.DecidePromotion(ctx, in)
	if err != nil || !d.Allow {
		t.Fatalf("a soaked promotion: %+v, %v", d, err)
	}
	in.Previous.SinceHours = 0.5
	if d, err := e.DecidePromotion(ctx, in); err != nil || d.Allow || len(d.Deny) != 1 || d.Deny[0].Rule != "soak-time" {
		t.Fatalf("an unsoaked promotion: %+v, %v; want soak-time", d, err)
	}
	var ri RolloutInput
	ri.Plugin, ri.Version, ri.Environment, ri.Rollout = "acme/hello", "1.1.0", "prod", 50
	ri.Health = NewHealthFacts(3, []HostHealthFacts{{Host: "a", Calls: 100, Errors: 50}, {Host: "b", Calls: 100, Errors: 50}, {Host: "c", Calls: 100, Errors: 50}})
	if h, err := e.DecideRolloutHealth(ctx, ri); err != nil || !h.Halt || h.Reasons[0].Rule != "rollout-failing-hosts" {
		t.Fatalf("three failing hosts: %+v, %v; want a halt", h, err)
	}
	bare, err := Compile(ctx, New(map[string]string{"p.rego": "package gatehouse\ndecision := {}\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := bare.DecidePromotion(ctx, in); err != nil || d.Allow || d.Deny[0].Rule != "no-promotion-rule" {
		t.Fatalf("a policy without promotion rules: %+v, %v; want a refusal", d, err)
	}
	if h, err := bare.DecideRolloutHealth(ctx, ri); err != nil || h.Halt {
		t.Fatalf("a policy without rollout rules: %+v, %v", h, err)
	}
}
