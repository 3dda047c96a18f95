package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

const chainWorkflows = `[
  {"name": "passes the output along", "input": {"message": "hello"},
   "steps": [{"plugin": "acme/echo", "export": "echo"}, {"plugin": "acme/echo", "export": "echo"}, {"plugin": "acme/echo", "export": "echo"}],
   "expect": {"output": {"message": "hello"}}},
  {"name": "the second step sees the first's output", "input": {"message": "hello"},
   "steps": [{"plugin": "acme/echo", "export": "echo"}, {"plugin": "acme/echo", "export": "fail"}, {"plugin": "acme/caps", "export": "kv"}],
   "expect": {"error": "refusing: hello"}},
  {"name": "with adds and overrides fields", "input": {"message": "hello"},
   "steps": [{"plugin": "acme/echo", "export": "echo"}, {"plugin": "acme/echo", "export": "echo", "with": {"message": "bye", "extra": 1}}],
   "expect": {"output": {"message": "bye"}}},
  {"name": "a fetch answered by the step's fake", "input": {"message": "go"},
   "steps": [{"plugin": "acme/echo", "export": "echo"},
             {"plugin": "acme/caps", "export": "fetch", "with": {"url": "https://api.example.com/x"},
              "fetch": [{"request": {"url": "https://api.example.com/x"}, "response": {"status": 201, "body": "made"}}]}],
   "expect": {"output": {"status": 201, "body": "made"}}},
  {"name": "each plugin its own seeded store", "input": {"key": "visits", "value": "42"},
   "steps": [{"plugin": "acme/caps", "export": "kv", "kv": {"visits": "41"}}],
   "expect": {"output": {"before": "41", "found": true}}},
  {"name": "wrong final output", "input": {"message": "hello"},
   "steps": [{"plugin": "acme/echo", "export": "echo"}],
   "expect": {"output": {"message": "goodbye"}}},
  {"name": "unused fake", "input": {"message": "hello"},
   "steps": [{"plugin": "acme/caps", "export": "kv", "with": {"key": "k", "value": "v"},
              "fetch": [{"request": {"url": "https://api.example.com/never"}, "response": {"status": 200}}]}],
   "expect": {"output": {"before": "", "found": false}}},
  {"name": "with on a non-object", "input": "text",
   "steps": [{"plugin": "acme/echo", "export": "echo", "with": {"message": "x"}}],
   "expect": {"output": {"message": "x"}}},
  {"name": "a clock in the chain", "input": {"message": "x"},
   "steps": [{"plugin": "acme/echo", "export": "nonce"}, {"plugin": "acme/echo", "export": "echo"}],
   "expect": {"errorKind": "timeout"}}
]`

func chainPlugins(t *testing.T) map[string]sandbox.LoadRequest {
	echo := &manifest.Manifest{ManifestVersion: 1, ID: "acme/echo", Version: "1.0.0",
		Runtime: manifest.Runtime{Exports: []string{"echo", "fail", "nonce"}, HostAPI: "^1"}}
	caps := &manifest.Manifest{ManifestVersion: 1, ID: "acme/caps", Version: "2.0.0",
		Runtime:     manifest.Runtime{Exports: []string{"fetch", "kv"}, HostAPI: "^1"},
		Permissions: []string{"kv:read", "kv:write", "net:https://api.example.com", "fs:read:/m", "secret:T", "data:read:contacts", "data:write:contacts"}}
	return map[string]sandbox.LoadRequest{
		"acme/echo": {Manifest: echo, Module: build(t, "echo")},
		"acme/caps": {Manifest: caps, Module: build(t, "caps"), Mounts: map[string]string{"/m": t.TempDir()}},
	}
}

func TestRunWorkflow(t *testing.T) {
	list, err := ParseWorkflows([]byte(chainWorkflows))
	if err != nil {
		t.Fatal(err)
	}
	plugins := chainPlugins(t)
	rt := newRuntime(t)
	got := map[string]WorkflowResult{}
	for _, w := range list {
		r, err := RunWorkflow(context.Background(), rt, plugins, w)
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		got[w.Name] = r
	}
	for _, name := range []string{"passes the output along", "the second step sees the first's output", "with adds and overrides fields", "a fetch answered by the step's fake", "each plugin its own seeded store"} {
		if r := got[name]; !r.Passed {
			t.Errorf("%s: did not pass: %s %s", name, r.Mismatch, r.Difference)
		}
	}
	if r := got["passes the output along"]; len(r.Steps) != 3 || string(r.Steps[1].Output) != `{"message":"hello"}` {
		t.Errorf("steps: %+v", r.Steps)
	}
	// The failing step ends the workflow: the third step never runs.
	if r := got["the second step sees the first's output"]; r.FailedStep != 2 || len(r.Steps) != 2 || r.ErrorKind != sandbox.KindPluginError {
		t.Errorf("a failing step: %+v", r)
	}
	if r := got["a fetch answered by the step's fake"]; r.Steps[1].Version != "2.0.0" || len(r.Steps[1].HostCalls) != 1 {
		t.Errorf("the fetch step: %+v", r.Steps[1])
	}
	for name, want := range map[string]string{
		"wrong final output":   `the last step's output {"message":"hello"} differs from the expected {"message": "goodbye"}`,
		"unused fake":          "fake fetches never made: GET https://api.example.com/never (step 1)",
		"with on a non-object": `step 1 (acme/echo echo): "with" adds fields to the input, but the input "text" is not a JSON object`,
		"a clock in the chain": "nondeterministic",
	} {
		r := got[name]
		if r.Passed {
			t.Errorf("%s: passed", name)
			continue
		}
		if want == "nondeterministic" {
			if !r.Nondeterministic || !strings.Contains(r.Difference, "step 1's outputs differ") {
				t.Errorf("%s: not flagged nondeterministic: %+v", name, r)
			}
			continue
		}
		if !strings.Contains(r.Mismatch, want) {
			t.Errorf("%s: mismatch %q, want it to contain %q", name, r.Mismatch, want)
		}
	}
}

func TestRunWorkflowRefusesAPluginItWasNotGiven(t *testing.T) {
	list, err := ParseWorkflows([]byte(`{"name": "w", "input": {}, "steps": [{"plugin": "acme/echo", "export": "echo"}, {"plugin": "evil/other", "export": "x"}], "expect": {"output": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunWorkflow(context.Background(), newRuntime(t), map[string]sandbox.LoadRequest{"acme/echo": {}}, list[0])
	if !errors.Is(err, ErrUnknownPlugin) || !strings.Contains(err.Error(), "step 2") || !strings.Contains(err.Error(), "evil/other") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseWorkflowsRefuses(t *testing.T) {
	step := `{"plugin":"acme/a","export":"e"}`
	many := strings.Repeat(step+",", MaxWorkflowSteps) + step
	for name, tc := range map[string]struct{ in, want string }{
		"unknown field":     {`{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1},"stepz":[]}`, "unknown field"},
		"no name":           {`{"input":{},"steps":[` + step + `],"expect":{"output":1}}`, "needs a name"},
		"no input":          {`{"name":"w","steps":[` + step + `],"expect":{"output":1}}`, "needs an input"},
		"no steps":          {`{"name":"w","input":{},"expect":{"output":1}}`, `needs "steps"`},
		"too many steps":    {`{"name":"w","input":{},"steps":[` + many + `],"expect":{"output":1}}`, "the limit is 16"},
		"bad plugin id":     {`{"name":"w","input":{},"steps":[{"plugin":"Acme","export":"e"}],"expect":{"output":1}}`, "not a plugin id"},
		"no export":         {`{"name":"w","input":{},"steps":[{"plugin":"acme/a"}],"expect":{"output":1}}`, "needs an export"},
		"with not object":   {`{"name":"w","input":{},"steps":[{"plugin":"acme/a","export":"e","with":[1]}],"expect":{"output":1}}`, `"with" must be a JSON object`},
		"expect kv":         {`{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1,"kv":{}}}`, "expect.kv"},
		"two expectations":  {`{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1,"error":"x"}}`, "exactly one"},
		"conflicting seeds": {`{"name":"w","input":{},"steps":[{"plugin":"acme/a","export":"e","kv":{"k":"1"}},{"plugin":"acme/a","export":"e","kv":{"k":"2"}}],"expect":{"output":1}}`, "seeded twice"},
		"fake without url":  {`{"name":"w","input":{},"steps":[{"plugin":"acme/a","export":"e","fetch":[{"request":{}}]}],"expect":{"output":1}}`, "request.url"},
		"duplicate name":    {`[{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1}},{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1}}]`, "named twice"},
		"trailing data":     {`{"name":"w","input":{},"steps":[` + step + `],"expect":{"output":1}} {}`, "unexpected data"},
		"empty list":        {`[]`, "no workflow"},
		"too large":         {`"` + strings.Repeat("x", MaxFileBytes) + `"`, "the limit is"},
	} {
		_, err := ParseWorkflows([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, tc.want)
		}
	}
}

func TestWorkflowPlugins(t *testing.T) {
	list, err := ParseWorkflows([]byte(chainWorkflows))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(list[1].Plugins(), ","); got != "acme/caps,acme/echo" {
		t.Errorf("Plugins() = %s", got)
	}
}

func FuzzParseWorkflows(f *testing.F) {
	f.Add([]byte(chainWorkflows))
	f.Add([]byte(`{"name":"w","input":1,"steps":[{"plugin":"a/b","export":"e","with":{"x":null},"kv":{"k":"v"}}],"expect":{"errorKind":"trap"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseWorkflows(data)
		if err != nil {
			return
		}
		for _, w := range list {
			if err := w.validate(); err != nil {
				t.Fatalf("ParseWorkflows returned an invalid workflow: %v", err)
			}
			if len(w.Steps) == 0 || len(w.Steps) > MaxWorkflowSteps {
				t.Fatalf("%d steps accepted", len(w.Steps))
			}
		}
	})
}
