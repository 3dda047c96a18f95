package scenario

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

func build(t *testing.T, name string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "../testdata/"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newRuntime(t *testing.T) *sandbox.Runtime {
	rt, err := sandbox.NewRuntime(sandbox.Config{CacheDir: t.TempDir(), KV: KV{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

const capsScenarios = `[
  {"name": "faked fetch", "export": "fetch", "input": {"url": "https://api.example.com/x"},
   "fetch": [{"request": {"url": "https://api.example.com/x"}, "response": {"status": 201, "body": "made"}}],
   "expect": {"output": {"body": "made", "status": 201}}},
  {"name": "redirect inside the origin", "export": "fetch", "input": {"url": "https://api.example.com/old"},
   "fetch": [{"request": {"url": "https://api.example.com/old"}, "response": {"status": 302, "headers": {"Location": "/new"}}},
             {"request": {"url": "https://api.example.com/new"}, "response": {"status": 200, "body": "moved"}}],
   "expect": {"output": {"status": 200, "body": "moved"}}},
  {"name": "ungranted origin", "export": "fetch", "input": {"url": "https://evil.example/steal"},
   "expect": {"errorKind": "denied"}},
  {"name": "fetch without a fake", "export": "fetch", "input": {"url": "https://api.example.com/unfaked"},
   "expect": {"error": "no fake response"}},
  {"name": "data scope", "export": "data", "input": {"req": {"scope": "contacts"}},
   "data": {"read:contacts": {"name": "Ada"}},
   "expect": {"output": {"content": "{\"name\": \"Ada\"}"}}},
  {"name": "wrong expectation", "export": "data", "input": {"req": {"scope": "contacts"}},
   "data": {"read:contacts": 1},
   "expect": {"output": {"content": "2"}}},
  {"name": "store seeded and checked", "export": "kv", "input": {"key": "visits", "value": "42"},
   "kv": {"visits": "41"},
   "expect": {"output": {"before": "41", "found": true}, "kv": {"visits": "42"}}},
  {"name": "wrong store afterwards", "export": "kv", "input": {"key": "visits", "value": "42"},
   "expect": {"output": {"before": "", "found": false}, "kv": {"visits": "43"}}},
  {"name": "fake never used", "export": "data", "input": {"req": {"scope": "contacts"}},
   "data": {"read:contacts": 1},
   "fetch": [{"request": {"method": "POST", "url": "https://api.example.com/unused"}, "response": {"status": 200}}],
   "expect": {"output": {"content": "1"}}}
]`

func TestRunCaps(t *testing.T) {
	scenarios, err := Parse([]byte(capsScenarios))
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{ManifestVersion: 1, ID: "acme/caps", Version: "1.0.0",
		Runtime:     manifest.Runtime{Exports: []string{"fetch", "data", "kv"}, HostAPI: "^1"},
		Permissions: []string{"kv:read", "kv:write", "net:https://api.example.com", "fs:read:/m", "secret:T", "data:read:contacts", "data:write:contacts"}}
	req := sandbox.LoadRequest{Manifest: m, Module: build(t, "caps"), Mounts: map[string]string{"/m": t.TempDir()}}
	results, err := Run(context.Background(), newRuntime(t), req, scenarios)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(scenarios) {
		t.Fatalf("%d results for %d scenarios", len(results), len(scenarios))
	}
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
		if r.Nondeterministic {
			t.Errorf("%s: flagged nondeterministic: %s", r.Name, r.Difference)
		}
	}
	for _, name := range []string{"faked fetch", "redirect inside the origin", "ungranted origin", "fetch without a fake", "data scope", "store seeded and checked"} {
		if r := byName[name]; !r.Passed {
			t.Errorf("%s: did not pass: %+v", name, r)
		}
	}
	if r := byName["ungranted origin"]; len(r.Denied) != 1 || r.Denied[0].Function != "http_fetch" {
		t.Errorf("the denied fetch is not recorded: %+v", r.Denied)
	}
	if r := byName["fetch without a fake"]; len(r.Unfaked) != 1 || r.Unfaked[0] != "GET https://api.example.com/unfaked" {
		t.Errorf("unfaked fetch not recorded: %+v", r.Unfaked)
	}
	if r := byName["redirect inside the origin"]; len(r.HostCalls) != 1 {
		t.Errorf("host calls = %+v", r.HostCalls)
	}
	if r := byName["wrong expectation"]; r.Passed || !strings.Contains(r.Mismatch, "differs") {
		t.Errorf("a wrong expectation passed: %+v", r)
	}
	// The store starts from the scenario's state on both runs, so a
	// plugin that writes is not flagged nondeterministic.
	if r := byName["wrong store afterwards"]; r.Passed || !strings.Contains(r.Mismatch, "store after the call") {
		t.Errorf("a wrong store passed: %+v", r)
	}
	if r := byName["fake never used"]; r.Passed || !strings.Contains(r.Mismatch, "never made: POST https://api.example.com/unused") {
		t.Errorf("an unused fake passed: %+v", r)
	}
}

// TestRunFlagsNondeterminism: an output that depends on the clock, or on
// what the plugin drew at random when it started, differs between a
// scenario's two runs; the two runs come from two initialisations even
// though the runner loads the plugin only once for all scenarios.
func TestRunFlagsNondeterminism(t *testing.T) {
	m := &manifest.Manifest{ManifestVersion: 1, ID: "acme/echo", Version: "1.0.0",
		Runtime: manifest.Runtime{Exports: []string{"nonce", "echo", "seed"}, HostAPI: "^1"}}
	scenarios, err := Parse([]byte(`[
		{"name": "clock", "export": "nonce", "input": {"message": "x"}, "expect": {"output": {"message": "x"}}},
		{"name": "echo", "export": "echo", "input": {"message": "x"}, "expect": {"output": {"message": "x"}}},
		{"name": "seeded at start", "export": "seed", "input": {"message": "x"}, "expect": {"output": {"message": "x"}}},
		{"name": "seeded at start, again", "export": "seed", "input": {"message": "x"}, "expect": {"output": {"message": "x"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rt, err := sandbox.NewRuntime(sandbox.Config{CacheDir: t.TempDir(), KV: KV{}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	results, err := Run(context.Background(), rt, sandbox.LoadRequest{Manifest: m, Module: build(t, "echo")}, scenarios)
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Nondeterministic || results[0].Passed {
		t.Errorf("a clock-dependent output was not flagged: %+v", results[0])
	}
	if results[1].Nondeterministic || !results[1].Passed {
		t.Errorf("a deterministic echo was flagged: %+v", results[1])
	}
	for _, r := range results[2:] {
		if !r.Nondeterministic {
			t.Errorf("%s: an output drawn at random at start-up was not flagged: %+v", r.Name, r)
		}
	}
	// Four scenarios, eight runs, one load and its fork (see Runner).
	if n := okLoads(t, reg); n != 1 {
		t.Errorf("the plugin was loaded %v times for 4 scenarios; want 1", n)
	}
}

// okLoads returns the sandbox's count of successful plugin loads.
func okLoads(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_plugin_loads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == sandbox.ResultOK {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func TestParseRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field":       `[{"name":"a","export":"e","input":{},"expect":{"output":1},"expcted":{}}]`,
		"no name":             `[{"export":"e","input":{},"expect":{"output":1}}]`,
		"no export":           `[{"name":"a","input":{},"expect":{"output":1}}]`,
		"no input":            `[{"name":"a","export":"e","expect":{"output":1}}]`,
		"no expectation":      `[{"name":"a","export":"e","input":{}}]`,
		"both expectations":   `[{"name":"a","export":"e","input":{},"expect":{"output":1,"error":"x"}}]`,
		"fetch without a url": `[{"name":"a","export":"e","input":{},"fetch":[{"request":{}}],"expect":{"output":1}}]`,
		"escaping mount":      `[{"name":"a","export":"e","input":{},"mounts":{"/m":"../../etc"},"expect":{"output":1}}]`,
		"relative mount path": `[{"name":"a","export":"e","input":{},"mounts":{"m":"x"},"expect":{"output":1}}]`,
		"duplicate name":      `[{"name":"a","export":"e","input":{},"expect":{"output":1}},{"name":"a","export":"e","input":{},"expect":{"output":1}}]`,
		"trailing data":       `{"name":"a","export":"e","input":{},"expect":{"output":1}} []`,
		"empty list":          `[]`,
		"not json":            `scenarios`,
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(capsScenarios))
	f.Add([]byte(`[{"name":"a","export":"e","input":{"x":1},"expect":{"output":{"y":2}}}]`))
	f.Add([]byte(`{"name":"a","export":"e","input":{},"mounts":{"/t":"t"},"kv":{"k":"v"},"expect":{"error":"x","kv":{}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range list {
			if err := s.validate(); err != nil {
				t.Fatalf("Parse returned an invalid scenario: %v", err)
			}
		}
	})
}
