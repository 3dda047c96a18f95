package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/api"
	"gatehouse.dev/gatehouse/internal/pluginkit"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// welcomeWorkflow chains the templater example into the notifier: the
// text templater renders is what notifier posts, and the fake webhook
// answers only a request carrying that text, so the workflow passes only
// when the chain carried it.
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

// dependentNotifier copies the notifier example as version, declaring a
// dependency on acme/templater ^1.0.0, with workflow as its integration
// workflow, and builds it.
func dependentNotifier(t *testing.T, work, name, version, workflow string) string {
	t.Helper()
	dir := filepath.Join(work, name)
	copyDir(t, filepath.Join("..", "examples", "plugins", "notifier"), dir)
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(man), `"version": "1.0.0"`, `"version": "`+version+`"`, 1)
	s = strings.Replace(s, `"support":`, `"dependencies": [{"id": "acme/templater", "range": "^1.0.0"}],
  "support":`, 1)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tests", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests", "workflows", "welcome.json"), []byte(workflow), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pluginkit.Build(context.Background(), dir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPluginTestChainsPlugins is issue 19 item 2 through the real command
// line and marketplace: an author tests a plugin that depends on another
// (the notifier posting what the templater renders) against a local
// package, then under load, then against the marketplace's certified
// version; and the marketplace runs the same workflow when the version is
// submitted, failing closed while the dependency is not certified.
func TestPluginTestChainsPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WebAssembly plugins and runs the whole marketplace")
	}
	ctx := context.Background()
	c := startCast(t)
	publisher := c.publisher
	work := t.TempDir()
	key := filepath.Join(work, "acme.key")
	publisher.must("keys", "generate", "-o", key)
	publisher.must("namespace", "key", "add", "acme", key+".pub")

	// The templater, built and packed into a folder of packages.
	tdir := filepath.Join(work, "templater")
	copyDir(t, filepath.Join("..", "examples", "plugins", "templater"), tdir)
	if _, err := pluginkit.Build(ctx, tdir, pluginkit.BuildOptions{CacheDir: filepath.Join(work, "cache")}); err != nil {
		t.Fatal(err)
	}
	deps := filepath.Join(work, "deps")
	if err := os.Mkdir(deps, 0o755); err != nil {
		t.Fatal(err)
	}
	tpkg := filepath.Join(deps, "templater.gpkg")
	publisher.must("plugin", "pack", tdir, "-o", tpkg)
	ndir := dependentNotifier(t, work, "notifier", "1.1.0", welcomeWorkflow)

	// Locally, against the package in the folder.
	out := publisher.must("plugin", "test", ndir, "--deps", deps)
	for _, want := range []string{"Scenarios (tests/*.json): 3 passed, 0 failed", "Workflows (tests/workflows/*.json): 1 passed, 0 failed",
		"with acme/templater@1.0.0 from " + deps + " (local packages, not verified)",
		"PASS  renders the welcome text and posts it to ops: acme/templater render → acme/notifier notify", "\nPASS\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("plugin test does not say %q:\n%s", want, out)
		}
	}

	// A load run: not a terminal, so no bar, only the summary.
	code, out, errOut := publisher.run("plugin", "test", ndir, "--deps", deps, "--load", "40", "--concurrency", "4")
	if code != 0 || strings.Contains(out+errOut, "\r") || !strings.Contains(out, `Load: 40 calls of "posts the message as JSON and reports the delivery" (notify), 4 at a time`) ||
		!strings.Contains(out, "latency  p50 ") || !strings.Contains(out, "errors   none (40 of 40 as expected)") || !strings.Contains(out, "memory   peak ") {
		t.Fatalf("load run: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Passed bool                 `json:"passed"`
		Load   *scenario.LoadReport `json:"load"`
	}
	js := publisher.must("plugin", "test", ndir, "--deps", deps, "--load", "30", "--concurrency", "3", "--scenario", "a failing hook service is an error with its status and answer", "-o", "json")
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Load == nil {
		t.Fatalf("plugin test -o json: %v\n%s", err, js)
	}
	if l := rep.Load; !rep.Passed || l.Calls != 30 || l.OK != 30 || len(l.Errors) != 0 || l.P50 <= 0 || l.P50 > l.P99 || l.PeakMemoryBytes == 0 {
		t.Errorf("load report: %+v", rep)
	}
	// The bounds, each with its reason.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--load", "200000"}, "the limit is 100000 calls"},
		{[]string{"--load", "10", "--concurrency", "65"}, "the limit is 64 calls at a time"},
		{[]string{"--concurrency", "4"}, "go with --load N"},
		{[]string{"--load", "5", "--scenario", "no such"}, `--scenario "no such": no scenario`},
	} {
		code, out, errOut := publisher.run(append([]string{"plugin", "test", ndir, "--deps", deps}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("plugin test %v: exit %d, want 1 saying %q\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
	// A workflow whose expectation the chain does not meet fails, and says how.
	bad := dependentNotifier(t, work, "notifier-bad", "1.1.0", strings.Replace(welcomeWorkflow, `{"delivered": true, "status": 202, "id": "msg_7"}`, `{"delivered": true, "status": 202, "id": "msg_8"}`, 1))
	code, out, _ = publisher.run("plugin", "test", bad, "--deps", deps)
	if code != 1 || !strings.Contains(out, "FAIL  renders the welcome text") || !strings.Contains(out, `differs from the expected {"delivered": true, "status": 202, "id": "msg_8"}`) {
		t.Fatalf("a failing workflow: exit %d\n%s", code, out)
	}
	// Without --deps the dependency comes from the marketplace, where no
	// version of the templater is certified yet.
	code, _, errOut = publisher.run("plugin", "test", ndir)
	if code != 1 || !strings.Contains(errOut, "installing the dependencies of acme/notifier from "+c.base) || !strings.Contains(errOut, "acme/templater") {
		t.Fatalf("plugin test with nothing certified: exit %d\n%s", code, errOut)
	}

	// The marketplace: the templater is submitted (in review), and the
	// notifier submitted while no templater is certified fails closed.
	submit := func(dir, name string) string {
		t.Helper()
		pkg := filepath.Join(work, name+".gpkg")
		publisher.must("plugin", "pack", dir, "-o", pkg)
		publisher.must("plugin", "sign", pkg, "--key", key)
		id := subID.FindString(publisher.must("plugin", "submit", pkg))
		if id == "" {
			t.Fatal("submit printed no submission id")
		}
		return id
	}
	behaviourOf := func(id string) (api.VetResult, string) {
		t.Helper()
		text := publisher.must("plugin", "status", id, "--wait", "--timeout", "8m")
		var sub api.Submission
		if err := json.Unmarshal([]byte(publisher.must("plugin", "status", id, "-o", "json")), &sub); err != nil || sub.Vetting == nil {
			t.Fatalf("status -o json: %v\n%s", err, text)
		}
		for _, r := range sub.Vetting.Results {
			if r.Analyzer == "behaviour" {
				return r, text
			}
		}
		t.Fatalf("no behaviour result:\n%s", text)
		return api.VetResult{}, ""
	}
	tid := submit(tdir, "templater-1.0.0")
	early := submit(ndir, "notifier-1.1.0")
	r, text := behaviourOf(early)
	if r.Status != "failed" || len(r.Findings) != 1 || r.Findings[0].RuleID != "behaviour/dependency-unavailable" || !strings.Contains(r.Findings[0].Message, "acme/templater") {
		t.Fatalf("a dependent version vetted while its dependency is not certified:\n%s", text)
	}
	if s := publisher.must("plugin", "status", tid, "--wait", "--timeout", "8m"); !strings.Contains(s, "in_review") {
		t.Fatalf("the templater after vetting:\n%s", s)
	}
	c.reviewer.must("review", "approve", tid, "-m", "templates are confined to the mount")
	if s := publisher.must("plugin", "status", tid); !strings.Contains(s, "certified") {
		c.reviewer2.must("review", "approve", tid)
	}
	if s := publisher.must("plugin", "status", tid); !strings.Contains(s, "certified") {
		t.Fatalf("the templater after approval:\n%s", s)
	}

	// The author's test now installs the certified templater, verified.
	out = publisher.must("plugin", "test", ndir, "--deps-dir", filepath.Join(work, "installed"))
	if !strings.Contains(out, "with acme/templater@1.0.0 from "+c.base+" (installed and verified into ") || !strings.Contains(out, "Workflows (tests/workflows/*.json): 1 passed, 0 failed") {
		t.Fatalf("plugin test against the marketplace:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(work, "installed", "gatehouse.lock")); err != nil {
		t.Errorf("the dependencies were not pinned: %v", err)
	}

	// A new version submitted now runs its workflow against the certified
	// templater in vetting, and passes.
	ndir2 := dependentNotifier(t, work, "notifier-1.1.1", "1.1.1", welcomeWorkflow)
	r, text = behaviourOf(submit(ndir2, "notifier-1.1.1"))
	var d struct {
		Workflows []struct {
			Name   string
			Passed bool
			Steps  []string
		}
		Dependencies  []string
		WorkflowCheck string
	}
	if err := json.Unmarshal(r.Detail, &d); err != nil {
		t.Fatal(err)
	}
	if r.Status != "passed" || d.WorkflowCheck != "checked" || strings.Join(d.Dependencies, ",") != "acme/templater@1.0.0" ||
		len(d.Workflows) != 1 || !d.Workflows[0].Passed || strings.Join(d.Workflows[0].Steps, "; ") != "acme/templater@1.0.0 render; acme/notifier@1.1.1 notify" {
		t.Fatalf("the workflow in vetting: %+v\n%s", d, text)
	}
}
