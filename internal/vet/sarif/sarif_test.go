package sarif

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"gatehouse.dev/gatehouse/internal/vet"
)

// schemaPath is the official SARIF 2.1.0 schema the repository carries
// (testdata/sarif/README.md names its source).
const schemaPath = "../../../testdata/sarif/sarif-schema-2.1.0.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// everyKind is one result of each status, with findings of every severity,
// with and without lines, offsets, snippets, properties and suppressions.
func everyKind() ([]vet.Result, map[string][]vet.Rule) {
	start := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	rules := map[string][]vet.Rule{
		"capabilities": {
			{ID: "capabilities/undeclared-import", Name: "UndeclaredImport", Description: "The module imports a host function no declared permission covers.", Severity: vet.High, Remediation: "Declare the permission."},
			{ID: "capabilities/unused-permission", Name: "UnusedPermission", Description: "A permission no import uses.", Severity: vet.Low, Remediation: "Remove it."},
		},
		"secrets": {{ID: "secrets/aws-access-token", Name: "aws-access-token", Description: "AWS key", Severity: vet.Critical, Remediation: "Rotate it.", HelpURI: "https://example.com/help"}},
	}
	return []vet.Result{
		{
			Analyzer: "capabilities", Version: "1.0.0", Status: vet.Failed, Started: start, Duration: 3 * time.Millisecond,
			Mode: vet.DefaultMode, Blocking: true, Databases: map[string]string{"hostapi": "1.0.0"},
			Findings: []vet.Finding{
				{Analyzer: "capabilities", RuleID: "capabilities/undeclared-import", Severity: vet.High, Message: "imports kv_get without kv:read",
					Location: vet.Location{File: "plugin.wasm", Offset: 1234, Length: 20}, Fingerprint: "fp-import", Remediation: "Add kv:read.",
					Properties: map[string]any{"import": "kv_get"}},
				{Analyzer: "capabilities", RuleID: "capabilities/undeclared-origin", Severity: vet.Medium, Message: "origin https://evil.example",
					Location: vet.Location{File: "docs/read me.md", Line: 3, Column: 7, Snippet: "https://evil.example"}, Fingerprint: "fp-origin"},
				{Analyzer: "capabilities", RuleID: "capabilities/unused-permission", Severity: vet.Low, Message: "kv:write unused",
					Location: vet.Location{File: "manifest.json", Line: 12}, Fingerprint: "fp-unused",
					Suppressed: &vet.Suppression{By: "rev@example.com", Reason: "used by a later release", At: start}},
				{Analyzer: "capabilities", RuleID: "capabilities/unused-permission", Severity: vet.Info, Message: "no location", Fingerprint: "fp-none"},
				{Analyzer: "capabilities", RuleID: "capabilities/unused-permission", Severity: vet.Critical, Message: "module start", Location: vet.Location{File: "plugin.wasm"}, Fingerprint: "fp-start"},
			},
		},
		{Analyzer: "dependencies", Version: "0.1.0", Status: vet.Errored, Reason: "the SBOM is not valid JSON", Started: start, Mode: vet.DefaultMode, Blocking: true, Findings: []vet.Finding{}},
		{Analyzer: "diff", Version: "1.0.0", Status: vet.Skipped, Reason: "first version", Started: start, Findings: []vet.Finding{}},
		{Analyzer: "secrets", Version: "8.30.1", Status: vet.Passed, Started: start, Findings: []vet.Finding{}},
		{Analyzer: "licenses", Status: vet.Passed, Reason: "3 findings were left out", Findings: nil},
	}, rules
}

func TestWriteValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	schema := compileSchema(t)
	results, rules := everyKind()
	var buf bytes.Buffer
	if err := Write(&buf, results, rules, ToolInfo{Name: "gatehouse", Version: "0.1.0", InformationURI: "https://gatehouse.dev"}); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("the SARIF output does not validate: %v\n%s", err, buf.String())
	}

	var log Log
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != len(results) {
		t.Fatalf("%d runs, want one per analyzer (%d)", len(log.Runs), len(results))
	}
	caps := log.Runs[0]
	if caps.Tool.Driver.Name != "gatehouse-capabilities" || caps.Tool.Driver.Version != "1.0.0" {
		t.Errorf("driver %+v", caps.Tool.Driver)
	}
	imp := caps.Results[0]
	if imp.Level != "error" || imp.Properties["security-severity"] != "8.0" || imp.PartialFingerprints[FingerprintKey] != "fp-import" {
		t.Errorf("import result %+v", imp)
	}
	if r := imp.Locations[0].PhysicalLocation.Region; r == nil || r.ByteOffset == nil || *r.ByteOffset != 1234 || r.ByteLength != 20 || r.StartLine != 0 {
		t.Errorf("import region %+v", r)
	}
	if rule := caps.Tool.Driver.Rules[imp.RuleIndex]; rule.ID != imp.RuleID || rule.Help == nil || rule.Help.Text != "Declare the permission." {
		t.Errorf("rule %+v for %s", rule, imp.RuleID)
	}
	origin := caps.Results[1]
	if origin.Level != "warning" || origin.Locations[0].PhysicalLocation.ArtifactLocation.URI != "docs/read%20me.md" ||
		origin.Locations[0].PhysicalLocation.Region.StartLine != 3 || origin.Locations[0].PhysicalLocation.Region.StartColumn != 7 {
		t.Errorf("origin result %+v", origin)
	}
	if rule := caps.Tool.Driver.Rules[origin.RuleIndex]; rule.ID != "capabilities/undeclared-origin" {
		t.Errorf("a rule not listed must be added from the finding: %+v", rule)
	}
	sup := caps.Results[2].Suppressions
	if len(sup) != 1 || sup[0].Kind != "external" || sup[0].Status != "accepted" || sup[0].Justification != "used by a later release" {
		t.Errorf("suppressions %+v", sup)
	}
	if caps.Results[2].Level != "note" || caps.Results[3].Locations != nil {
		t.Errorf("low level %q, locations of an unlocated finding %+v", caps.Results[2].Level, caps.Results[3].Locations)
	}
	dep := log.Runs[1]
	if dep.Invocations[0].ExecutionSuccessful || dep.Invocations[0].ToolExecutionNotifications[0].Message.Text != "the SBOM is not valid JSON" {
		t.Errorf("errored run %+v", dep.Invocations)
	}
	if d := log.Runs[2]; !d.Invocations[0].ExecutionSuccessful || !strings.Contains(d.Invocations[0].ToolExecutionNotifications[0].Message.Text, "first version") {
		t.Errorf("skipped run %+v", d.Invocations)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	for sev, want := range map[vet.Severity]string{vet.Critical: "error", vet.High: "error", vet.Medium: "warning", vet.Low: "note", vet.Info: "note"} {
		if got := Level(sev); got != want {
			t.Errorf("Level(%s) = %s, want %s", sev, got, want)
		}
	}
}

// TestSchemaCatchesMistakes proves the validation above can fail: a level
// SARIF does not define and a suppression without its kind are refused.
func TestSchemaCatchesMistakes(t *testing.T) {
	t.Parallel()
	schema := compileSchema(t)
	results, rules := everyKind()
	l := Build(results, rules, ToolInfo{})
	l.Runs[0].Results[0].Level = "fatal"
	l.Runs[0].Results[2].Suppressions[0].Kind = "reviewer"
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	err = schema.Validate(inst)
	if err == nil || !strings.Contains(err.Error(), "/runs/0/results/0/level") {
		t.Errorf("a broken log validated: %v", err)
	}
}

// TestDriversAndRegions: every driver names the project's informationUri
// (the multitool warns without one), every result whose position is
// known has a region (a line and column for text, a byte range for a
// binary), and the log still validates against the official schema.
func TestDriversAndRegions(t *testing.T) {
	t.Parallel()
	schema := compileSchema(t)
	results, rules := everyKind()
	results[0].Findings = append(results[0].Findings,
		vet.Finding{Analyzer: "capabilities", RuleID: "capabilities/unused-permission", Severity: vet.Low, Message: "offset only",
			Location: vet.Location{File: "plugin.wasm", Offset: 8}, Fingerprint: "fp-offset"},
		vet.Finding{Analyzer: "capabilities", RuleID: "capabilities/unused-permission", Severity: vet.Low, Message: "length only",
			Location: vet.Location{File: "plugin.wasm", Length: 8}, Fingerprint: "fp-length"})
	l := Build(results, rules, ToolInfo{Name: "gatehouse"})
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("the SARIF output does not validate: %v", err)
	}
	for ri, run := range l.Runs {
		if run.Tool.Driver.InformationURI != InformationURI {
			t.Errorf("run %d: informationUri %q", ri, run.Tool.Driver.InformationURI)
		}
		for i, r := range run.Results {
			f := results[ri].Findings[i]
			known := f.Location.File != "" && (f.Location.Line > 0 || f.Location.Offset > 0 || f.Location.Length > 0)
			if !known {
				continue
			}
			if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.Region == nil {
				t.Errorf("%s: no region for %+v", f.Message, f.Location)
				continue
			}
			reg := r.Locations[0].PhysicalLocation.Region
			switch {
			case f.Location.Line > 0:
				if reg.StartLine != f.Location.Line || reg.StartColumn != f.Location.Column || reg.ByteOffset != nil {
					t.Errorf("%s: region %+v for %+v", f.Message, reg, f.Location)
				}
			default:
				if reg.ByteOffset == nil || *reg.ByteOffset != f.Location.Offset || reg.ByteLength != f.Location.Length || reg.StartLine != 0 {
					t.Errorf("%s: region %+v for %+v", f.Message, reg, f.Location)
				}
			}
		}
	}
	// A caller's own informationUri is kept.
	if l := Build(results, rules, ToolInfo{InformationURI: "https://example.com/ci"}); l.Runs[0].Tool.Driver.InformationURI != "https://example.com/ci" {
		t.Errorf("informationUri %q", l.Runs[0].Tool.Driver.InformationURI)
	}
}
