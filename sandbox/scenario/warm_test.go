package scenario

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

// TestRunInitialisesBeforeTheCall: each run initialises the plugin before
// its call. An initialisation that breaks the time limit fails the
// scenario with a timeout that says so, on both runs alike (so it is not
// nondeterminism); the host calls a successful initialisation made are
// the run's, ahead of the call's.
func TestRunInitialisesBeforeTheCall(t *testing.T) {
	m := &manifest.Manifest{ManifestVersion: 1, ID: "acme/initmode", Version: "1.0.0",
		Runtime:     manifest.Runtime{Exports: []string{"mode"}, HostAPI: "^1"},
		Permissions: []string{"kv:read"},
		// The initialisation's limit is of CPU time, so only the endless
		// start reaches it, however busy the machine.
		Limits: &manifest.Limits{TimeoutMillis: 1000}}
	scenarios, err := Parse([]byte(`[
		{"name": "quick start", "export": "mode", "input": {}, "kv": {"init": "ok"}, "expect": {"output": {"mode": "ok"}}},
		{"name": "endless start", "export": "mode", "input": {}, "kv": {"init": "spin"}, "expect": {"output": {"mode": "spin"}}}]`))
	if err != nil {
		t.Fatal(err)
	}
	results, err := Run(context.Background(), newRuntime(t), sandbox.LoadRequest{Manifest: m, Module: build(t, "initmode")}, scenarios)
	if err != nil {
		t.Fatal(err)
	}
	quick, endless := results[0], results[1]
	if !quick.Passed {
		t.Errorf("quick start did not pass: %+v", quick)
	}
	if len(quick.HostCalls) != 1 || quick.HostCalls[0].Function != "kv_get" || quick.HostCalls[0].Target != "init" {
		t.Errorf("quick start's host calls = %+v, want the initialisation's kv_get", quick.HostCalls)
	}
	if endless.Passed || endless.ErrorKind != sandbox.KindTimeout || endless.Nondeterministic {
		t.Errorf("endless start: passed %v, kind %q, nondeterministic %v; want a deterministic timeout", endless.Passed, endless.ErrorKind, endless.Nondeterministic)
	}
	if !strings.Contains(endless.Error, "the plugin's initialisation ran longer than its 1s limit") {
		t.Errorf("endless start's error %q does not blame the initialisation", endless.Error)
	}
	if !strings.Contains(endless.Mismatch, "expected success, got timeout") {
		t.Errorf("endless start's mismatch = %q", endless.Mismatch)
	}
	if len(endless.HostCalls) != 1 || endless.HostCalls[0].Function != "kv_get" {
		t.Errorf("endless start's host calls = %+v, want the initialisation's kv_get", endless.HostCalls)
	}
}
