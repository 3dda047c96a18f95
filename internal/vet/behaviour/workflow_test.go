package behaviour

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/pkgfile"
)

// welcomeWorkflow chains the templater example into the notifier example:
// the rendered text is what the notifier posts, so the fake webhook only
// answers when the chain carried it.
const welcomeWorkflow = `{
  "name": "renders the welcome text and posts it to ops",
  "input": {"template": "welcome.txt", "data": {"name": "Ada", "team": "Platform", "tasks": ["Read the handbook"]}},
  "steps": [
    {"plugin": "acme/templater", "export": "render"},
    {"plugin": "acme/notifier", "export": "notify", "with": {"channel": "ops"},
     "fetch": [{"request": {"method": "POST", "url": "https://hooks.example.com/v1/messages",
                            "json": {"channel": "ops", "level": "info", "text": "Hello Ada,\n\nWelcome to Platform! Your first tasks:\n- Read the handbook\n\nSee you soon.\n"}},
                "response": {"status": 202, "body": "{\"id\": \"msg_7\"}"}}]}
  ],
  "expect": {"output": {"delivered": true, "status": 202, "id": "msg_7"}}
}`

// dependentNotifier packs the notifier example with a dependency on
// acme/templater (range rng) and the given workflow files.
func dependentNotifier(t *testing.T, rng string, workflows map[string]string) *vet.Input {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "notifier")
	copyPlugin(t, example(t, "notifier"), dir, true)
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	man = bytes.Replace(man, []byte(`"support":`), fmt.Appendf(nil, `"dependencies": [{"id": "acme/templater", "range": %q}],
  "support":`, rng), 1)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), man, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tests", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range workflows {
		if err := os.WriteFile(filepath.Join(dir, "tests", "workflows", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return input(t, pack(t, dir))
}

func pack(t testing.TB, dir string) *pkgfile.Package {
	t.Helper()
	var buf bytes.Buffer
	if _, _, err := pkgfile.PackDir(dir, &buf); err != nil {
		t.Fatal(err)
	}
	pkg, err := pkgfile.Read(&buf, pkgfile.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// certified is an in-memory catalog of certified packages by id and
// version, standing in for the marketplace's store.
type certified map[string]map[string]*pkgfile.Package

func (c certified) Versions(_ context.Context, id string) ([]string, error) {
	var out []string
	for v := range c[id] {
		out = append(out, v)
	}
	return out, nil
}

func (c certified) Package(_ context.Context, id, version string) (*pkgfile.Package, error) {
	p, ok := c[id][version]
	if !ok {
		return nil, fmt.Errorf("%s@%s is not certified", id, version)
	}
	return p, nil
}

func analyzerWith(t *testing.T, deps certified) *Analyzer {
	t.Helper()
	opts := Options{CacheDir: t.TempDir()}
	if deps != nil {
		opts.Dependencies = deps
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a
}

func TestWorkflowsRunAgainstCertifiedDependencies(t *testing.T) {
	templater := pack(t, example(t, "templater"))
	catalog := certified{"acme/templater": {"1.0.0": templater}}
	wrong := strings.Replace(welcomeWorkflow, `"id": "msg_7"}}`, `"id": "msg_8"}}`, 1)
	undeclared := strings.Replace(welcomeWorkflow, `"plugin": "acme/templater"`, `"plugin": "acme/counter"`, 1)

	t.Run("passes", func(t *testing.T) {
		rep, d := analyze(t, analyzerWith(t, catalog), dependentNotifier(t, "^1.0.0", map[string]string{"welcome.json": welcomeWorkflow}))
		if len(rep.Findings) != 0 {
			t.Fatalf("findings: %s", messages(rep.Findings))
		}
		if d.WorkflowCheck != "checked" || strings.Join(d.Dependencies, ",") != "acme/templater@1.0.0" || len(d.Workflows) != 1 || !d.Workflows[0].Passed {
			t.Fatalf("detail: %+v", d)
		}
		if got := strings.Join(d.Workflows[0].Steps, "; "); got != "acme/templater@1.0.0 render; acme/notifier@1.0.0 notify" {
			t.Errorf("steps: %s", got)
		}
		// The example's own scenarios ran too.
		if d.Passed == 0 || d.Failed != 0 {
			t.Errorf("scenarios: %d passed, %d failed", d.Passed, d.Failed)
		}
	})
	t.Run("a wrong expectation", func(t *testing.T) {
		rep, d := analyze(t, analyzerWith(t, catalog), dependentNotifier(t, "^1.0.0", map[string]string{"welcome.json": wrong}))
		fs := byRule(rep.Findings, RuleWorkflowFailed)
		if len(fs) != 1 || fs[0].Severity != vet.Medium || !strings.Contains(fs[0].Message, "msg_8") || fs[0].Location.File != "tests/workflows/welcome.json" || fs[0].Location.Line != 2 {
			t.Fatalf("findings: %s %+v", messages(rep.Findings), fs)
		}
		if d.Workflows[0].Passed {
			t.Errorf("detail: %+v", d.Workflows)
		}
	})
	t.Run("fails closed when no certified version satisfies the range", func(t *testing.T) {
		for name, a := range map[string]*Analyzer{"none certified": analyzerWith(t, certified{}), "out of range": analyzerWith(t, catalog)} {
			rng := "^1.0.0"
			if name == "out of range" {
				rng = "^2.0.0"
			}
			rep, d := analyze(t, a, dependentNotifier(t, rng, map[string]string{"welcome.json": welcomeWorkflow}))
			fs := byRule(rep.Findings, RuleDependencyUnavailable)
			if len(fs) != 1 || fs[0].Severity != vet.High || !strings.Contains(fs[0].Message, "acme/templater") || len(d.Workflows) != 0 {
				t.Errorf("%s: findings %s, workflows %+v", name, messages(rep.Findings), d.Workflows)
			}
			if !strings.HasPrefix(d.WorkflowCheck, "failed closed") {
				t.Errorf("%s: workflow check %q", name, d.WorkflowCheck)
			}
		}
	})
	t.Run("a step calling an undeclared plugin", func(t *testing.T) {
		rep, _ := analyze(t, analyzerWith(t, catalog), dependentNotifier(t, "^1.0.0", map[string]string{"welcome.json": undeclared}))
		fs := byRule(rep.Findings, RuleScenarioError)
		if len(fs) != 1 || !strings.Contains(fs[0].Message, "acme/counter, which is not among acme/notifier's dependencies") {
			t.Fatalf("findings: %s", messages(rep.Findings))
		}
	})
	t.Run("no catalog: not run, and said so", func(t *testing.T) {
		rep, d := analyze(t, analyzerWith(t, nil), dependentNotifier(t, "^1.0.0", map[string]string{"welcome.json": welcomeWorkflow}))
		if len(rep.Findings) != 0 || !strings.HasPrefix(d.WorkflowCheck, "skipped") || len(d.Workflows) != 0 {
			t.Fatalf("findings %s, detail %+v", messages(rep.Findings), d)
		}
	})
	t.Run("an unreadable workflow file", func(t *testing.T) {
		rep, _ := analyze(t, analyzerWith(t, catalog), dependentNotifier(t, "^1.0.0", map[string]string{"bad.json": `{"name": "x"}`}))
		fs := byRule(rep.Findings, RuleScenarioError)
		if len(fs) != 1 || fs[0].Location.File != "tests/workflows/bad.json" {
			t.Fatalf("findings: %s", messages(rep.Findings))
		}
	})
}
