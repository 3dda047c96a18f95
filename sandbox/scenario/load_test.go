package scenario

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

func TestLoadTest(t *testing.T) {
	m := &manifest.Manifest{ManifestVersion: 1, ID: "acme/caps", Version: "1.0.0",
		Runtime:     manifest.Runtime{Exports: []string{"fetch", "kv"}, HostAPI: "^1"},
		Permissions: []string{"kv:read", "kv:write", "net:https://api.example.com", "fs:read:/m", "secret:T", "data:read:contacts", "data:write:contacts"}}
	req := sandbox.LoadRequest{Manifest: m, Module: build(t, "caps"), Mounts: map[string]string{"/m": t.TempDir()}}
	list, err := Parse([]byte(`[
	  {"name": "fetch", "export": "fetch", "input": {"url": "https://api.example.com/x"},
	   "fetch": [{"request": {"url": "https://api.example.com/x"}, "response": {"status": 201, "body": "made"}}],
	   "expect": {"output": {"status": 201, "body": "made"}}},
	  {"name": "kv", "export": "kv", "input": {"key": "visits", "value": "42"}, "kv": {"visits": "41"},
	   "expect": {"output": {"before": "41", "found": true}, "kv": {"visits": "42"}}},
	  {"name": "wrong", "export": "kv", "input": {"key": "visits", "value": "42"},
	   "expect": {"output": {"before": "7", "found": true}}},
	  {"name": "denied", "export": "fetch", "input": {"url": "https://evil.example/x"},
	   "expect": {"output": {"status": 200, "body": ""}}}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	for _, tc := range []struct {
		scenario    string
		calls, conc int
		ok          int
		kinds       []string
	}{
		// Every call gets its own fakes and store, so every call passes:
		// nothing leaks from one call to the next.
		{scenario: "fetch", calls: 40, conc: 4, ok: 40},
		{scenario: "kv", calls: 30, conc: 3, ok: 30},
		{scenario: "wrong", calls: 10, conc: 2, kinds: []string{KindBadOutput}},
		// A plugin that keeps failing trips the host's circuit breaker, as
		// it would in production.
		{scenario: "denied", calls: 20, conc: 1, kinds: []string{string(sandbox.KindDenied), string(sandbox.KindBreakerOpen)}},
	} {
		var s Scenario
		for _, x := range list {
			if x.Name == tc.scenario {
				s = x
			}
		}
		var seen []int
		rep, err := LoadTest(context.Background(), rt, req, s, "", LoadOptions{Calls: tc.calls, Concurrency: tc.conc, Progress: func(done, total int) {
			if total != tc.calls {
				t.Errorf("progress total %d", total)
			}
			seen = append(seen, done)
		}})
		if err != nil {
			t.Fatalf("%s: %v", tc.scenario, err)
		}
		if rep.OK != tc.ok || rep.Calls != tc.calls || rep.Failed() != tc.calls-tc.ok {
			t.Errorf("%s: ok %d of %d, want %d; errors %v", tc.scenario, rep.OK, rep.Calls, tc.ok, rep.Errors)
		}
		n := 0
		for _, k := range tc.kinds {
			n += rep.Errors[k]
		}
		if n != tc.calls-tc.ok || len(rep.Errors) > len(tc.kinds) {
			t.Errorf("%s: errors %v, want only %v", tc.scenario, rep.Errors, tc.kinds)
		}
		if len(seen) != tc.calls || seen[len(seen)-1] != tc.calls {
			t.Errorf("%s: progress reported %d times, last %v", tc.scenario, len(seen), seen[len(seen)-1:])
		}
		if !(rep.P50 > 0 && rep.P50 <= rep.P99 && rep.P99 <= rep.Max) {
			t.Errorf("%s: p50 %v, p99 %v, max %v", tc.scenario, rep.P50, rep.P99, rep.Max)
		}
		if tc.ok > 0 && (rep.PeakMemoryBytes == 0 || rep.PeakHostHeapBytes == 0) {
			t.Errorf("%s: peak memory %d, host heap %d", tc.scenario, rep.PeakMemoryBytes, rep.PeakHostHeapBytes)
		}
	}
}

func TestLoadOptionsBounds(t *testing.T) {
	for _, tc := range []struct {
		calls, conc int
		want        string
	}{
		{0, 1, "make at least 1 call"},
		{MaxLoadCalls + 1, 1, "the limit is 100000 calls"},
		{10, 0, "at least 1 call at a time"},
		{1000, MaxLoadConcurrency + 1, "the limit is 64 calls at a time"},
		{2, 4, "more than the 2 calls"},
		{10, 2, ""},
	} {
		err := LoadOptions{Calls: tc.calls, Concurrency: tc.conc}.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%d/%d: %v", tc.calls, tc.conc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d/%d: err = %v, want %q", tc.calls, tc.conc, err, tc.want)
		}
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		n    int
		want time.Duration
	}{{50, 100, 50}, {99, 100, 99}, {100, 100, 100}, {99, 1, 1}, {50, 3, 2}} {
		if got := percentile(sorted[:tc.n], tc.p); got != tc.want {
			t.Errorf("p%v of %d = %d, want %d", tc.p, tc.n, got, tc.want)
		}
	}
}
