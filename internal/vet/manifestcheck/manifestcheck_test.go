package manifestcheck

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/manifest"
)

// catalog is an in-memory Catalog.
type catalog map[string][]string

func (c catalog) Versions(_ context.Context, id string) ([]string, error) {
	if id == "acme/broken" {
		return nil, errors.New("store unavailable")
	}
	return c[id], nil
}

func pkg(t *testing.T, man string, extra ...string) *vet.Input {
	t.Helper()
	files := map[string][]byte{"manifest.json": []byte(man), "plugin.wasm": plugintest.Module(nil, []string{"run"}, 1, 1, nil)}
	for _, f := range extra {
		files[f] = []byte("text\n")
	}
	in := &vet.Input{Package: plugintest.Package(t, files)}
	in.Manifest, _ = manifest.Parse([]byte(man), manifest.Options{})
	return in
}

func analyze(t *testing.T, a *Analyzer, in *vet.Input) (*vet.Report, *Detail) {
	t.Helper()
	rep, err := a.Analyze(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rep, rep.Detail.(*Detail)
}

const full = `{
  "manifestVersion": 1,
  "id": "acme/t",
  "version": "1.0.0",
  "name": "T",
  "description": "Does a thing.",
  "homepage": "https://acme.example.com",
  "owners": [{"name": "Acme", "email": "dev@acme.example.com"}],
  "license": "MIT",
  "runtime": {"module": "plugin.wasm", "exports": ["run"], "hostApi": "^1.0.0"},
  "permissions": [],
  "data": {"categories": [], "purpose": "None.", "retention": "none", "leavesPlatform": false},
  "dependencies": [
    {"id": "acme/base", "range": "^1.2.0"},
    {"id": "acme/old", "range": "^2.0.0"},
    {"id": "acme/ghost", "range": "*"}
  ],
  "support": {"email": "help@acme.example.com"}
}
`

func TestInvalidManifestPointsAtLines(t *testing.T) {
	t.Parallel()
	bad := strings.Replace(strings.Replace(full, `"1.0.0",`, `"1.0",`, 1), `"permissions": []`, `"permissions": ["fs:write:/x"]`, 1)
	rep, _ := analyze(t, New(Options{}), pkg(t, bad))
	got := map[string]int{}
	for _, f := range rep.Findings {
		if f.RuleID != RuleInvalid || f.Severity != vet.High {
			t.Errorf("finding %+v", f)
		}
		got[f.Properties["pointer"].(string)] = f.Location.Line
	}
	if got["/version"] != 4 || got["/permissions/0"] != 11 || len(got) != 2 {
		t.Errorf("pointer → line: %v", got)
	}
}

func TestDependenciesAndHostAPI(t *testing.T) {
	t.Parallel()
	cat := catalog{"acme/base": {"1.1.0", "1.2.5", "1.3.0", "2.0.0"}, "acme/old": {"1.0.0"}}
	rep, d := analyze(t, New(Options{Catalog: cat}), pkg(t, full, "README.md", "LICENSE"))
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.RuleID+"@"+f.Location.File+":"+itoa(f.Location.Line))
	}
	want := "manifest/dependency-unresolved@manifest.json:15 manifest/dependency-unknown@manifest.json:16"
	if strings.Join(ids, " ") != want {
		t.Errorf("findings %v, want %s", ids, want)
	}
	if d.Dependencies[0].Resolved != "1.3.0" || d.DependencyCheck != "checked" || d.Score != 100 {
		t.Errorf("detail %+v", d)
	}

	// No catalog: skipped in Detail, no finding.
	rep, d = analyze(t, New(Options{}), pkg(t, full, "README.md", "LICENSE"))
	if len(rep.Findings) != 0 || !strings.HasPrefix(d.DependencyCheck, "skipped") {
		t.Errorf("without a catalog: %+v %+v", rep.Findings, d)
	}

	// A catalog that fails errors the analyzer: it must not pass unchecked.
	broken := strings.Replace(full, `"acme/ghost"`, `"acme/broken"`, 1)
	if _, err := New(Options{Catalog: cat}).Analyze(context.Background(), pkg(t, broken)); err == nil || !strings.Contains(err.Error(), "store unavailable") {
		t.Errorf("failing catalog: %v", err)
	}

	// A host API range no offered version satisfies.
	rep, d = analyze(t, New(Options{HostAPIVersions: []string{"1.0.0", "1.1.0"}}), pkg(t, strings.Replace(full, `"^1.0.0"`, `"^2.0.0"`, 1), "README.md", "LICENSE"))
	if len(rep.Findings) != 1 || rep.Findings[0].RuleID != RuleHostAPI || rep.Findings[0].Location.Line != 10 || len(d.HostAPI.SatisfiedBy) != 0 {
		t.Errorf("host API: %+v %+v", rep.Findings, d.HostAPI)
	}
}

func TestCompleteness(t *testing.T) {
	t.Parallel()
	bare := `{"manifestVersion":1,"id":"acme/t","version":"1.0.0","name":"T","owners":[{"name":"A"}],"license":"MIT",
"runtime":{"module":"plugin.wasm","exports":["run"],"hostApi":"^1.0.0"},"permissions":[]}`
	rep, d := analyze(t, New(Options{}), pkg(t, bare, "LICENSE"))
	if d.Score != 15 || len(d.Missing) != 6 {
		t.Errorf("score %d missing %v", d.Score, d.Missing)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].RuleID != RuleIncomplete || rep.Findings[0].Severity != vet.Info || !strings.Contains(rep.Findings[0].Message, "README") {
		t.Errorf("findings %+v", rep.Findings)
	}
}

func TestModuleMissing(t *testing.T) {
	t.Parallel()
	in := pkg(t, full, "README.md", "LICENSE")
	in.Package = plugintest.Package(t, map[string][]byte{"manifest.json": []byte(full)})
	rep, _ := analyze(t, New(Options{}), in)
	if len(rep.Findings) == 0 || rep.Findings[0].RuleID != RuleModuleMissing || rep.Findings[0].Severity != vet.Critical {
		t.Errorf("findings %+v", rep.Findings)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
