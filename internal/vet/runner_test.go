package vet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stub is an analyzer whose behaviour the test sets.
type stub struct {
	name     string
	requires []string
	timeout  time.Duration
	rules    []Rule
	analyze  func(ctx context.Context, in *Input) (*Report, error)
}

func (s *stub) Name() string           { return s.name }
func (s *stub) Version() string        { return "1" }
func (s *stub) Requires() []string     { return s.requires }
func (s *stub) Timeout() time.Duration { return s.timeout }
func (s *stub) Rules() []Rule          { return s.rules }
func (s *stub) Analyze(ctx context.Context, in *Input) (*Report, error) {
	return s.analyze(ctx, in)
}

func finding(rule string, sev Severity, file string) Finding {
	return Finding{RuleID: rule, Severity: sev, Message: rule + " in " + file, Location: Location{File: file, Line: 1}}
}

func reporting(fs ...Finding) func(context.Context, *Input) (*Report, error) {
	return func(context.Context, *Input) (*Report, error) {
		return &Report{Findings: fs, Detail: map[string]int{"n": len(fs)}, Databases: map[string]string{"db": "v1"}}, nil
	}
}

func byName(results []Result) map[string]Result {
	m := make(map[string]Result)
	for _, r := range results {
		m[r.Analyzer] = r
	}
	return m
}

func TestRunStatusesAndBlocking(t *testing.T) {
	t.Parallel()
	as := []Analyzer{
		&stub{name: "clean", analyze: reporting(finding("clean/advice", Low, "a"))},
		&stub{name: "bad", rules: []Rule{{ID: "bad/x", Remediation: "fix x"}}, analyze: reporting(finding("bad/x", High, "b"))},
		&stub{name: "broken", analyze: func(context.Context, *Input) (*Report, error) { return nil, errors.New("cannot read the module") }},
		&stub{name: "na", analyze: func(context.Context, *Input) (*Report, error) {
			return nil, fmt.Errorf("first version: %w", ErrSkipped)
		}},
	}
	res := byName(Run(context.Background(), as, &Input{}, Config{}, nil))

	if r := res["clean"]; r.Status != Passed || r.Blocking || string(r.Detail) != `{"n":1}` || r.Databases["db"] != "v1" {
		t.Errorf("clean = %+v", r)
	}
	if r := res["bad"]; r.Status != Failed || !r.Blocking || r.Findings[0].Remediation != "fix x" || r.Findings[0].Analyzer != "bad" || r.Findings[0].Fingerprint == "" {
		t.Errorf("bad = %+v", r)
	}
	if r := res["broken"]; r.Status != Errored || !r.Blocking || r.Reason != "cannot read the module" {
		t.Errorf("broken = %+v", r)
	}
	if r := res["na"]; r.Status != Skipped || r.Blocking || r.Reason != "first version" {
		t.Errorf("na = %+v", r)
	}
	blocked, reasons := Summary(Run(context.Background(), as, &Input{}, Config{}, nil))
	if !blocked || len(reasons) != 2 || !strings.Contains(reasons[0], "bad/x") || !strings.Contains(reasons[1], "cannot read the module") {
		t.Errorf("Summary = %v, %q", blocked, reasons)
	}
}

func TestRunModes(t *testing.T) {
	t.Parallel()
	as := []Analyzer{
		&stub{name: "a", analyze: reporting(finding("a/shadow", High, "x"), finding("a/off", Critical, "x"), finding("a/on", Medium, "y"))},
		&stub{name: "s", analyze: reporting(finding("s/enforced", High, "x"))},
		&stub{name: "opt", analyze: func(context.Context, *Input) (*Report, error) { return nil, errors.New("boom") }},
	}
	cfg := Config{
		Analyzers: map[string]Mode{
			"s":   {Enabled: true},
			"opt": {Enabled: true, Enforced: true},
		},
		Rules: map[string]Mode{
			"a/shadow":   {Enabled: true},
			"a/off":      {},
			"s/enforced": {Enabled: true, Enforced: true},
		},
	}
	res := byName(Run(context.Background(), as, &Input{}, cfg, nil))
	a := res["a"]
	if len(a.Findings) != 2 {
		t.Fatalf("a has %d findings, want 2 (the disabled rule's dropped): %+v", len(a.Findings), a.Findings)
	}
	if a.Status != Failed || !a.Blocking {
		t.Errorf("a: status %s blocking %v; the enforced medium finding must block", a.Status, a.Blocking)
	}
	if s := res["s"]; !s.Blocking {
		t.Error("an enforced rule of a shadow analyzer must block")
	}
	if o := res["opt"]; o.Status != Errored || o.Blocking {
		t.Errorf("an optional analyzer that errors must not block: %+v", o)
	}

	// Shadow rule alone: shows, never blocks.
	as = []Analyzer{&stub{name: "a", analyze: reporting(finding("a/shadow", Critical, "x"))}}
	r := Run(context.Background(), as, &Input{}, cfg, nil)[0]
	if r.Status != Failed || r.Blocking || len(r.Findings) != 1 {
		t.Errorf("shadow rule: %+v", r)
	}

	// Disabled analyzer: not run.
	var ran atomic.Bool
	as = []Analyzer{&stub{name: "d", analyze: func(context.Context, *Input) (*Report, error) { ran.Store(true); return &Report{}, nil }}}
	r = Run(context.Background(), as, &Input{}, Config{Analyzers: map[string]Mode{"d": {}}}, nil)[0]
	if ran.Load() || r.Status != Skipped || r.Blocking {
		t.Errorf("disabled analyzer ran=%v result %+v", ran.Load(), r)
	}

	// A required analyzer nobody provides blocks.
	res = byName(Run(context.Background(), nil, &Input{}, Config{Analyzers: map[string]Mode{"sbom": DefaultMode}}, nil))
	if r := res["sbom"]; r.Status != Errored || !r.Blocking {
		t.Errorf("missing required analyzer: %+v", r)
	}
}

func TestRunSuppressions(t *testing.T) {
	t.Parallel()
	f := finding("a/x", High, "f")
	f.Fingerprint = "fp1"
	as := []Analyzer{&stub{name: "a", analyze: reporting(f)}}
	sup := SuppressionMap{"fp1": {By: "rev", Reason: "test fixture", At: time.Unix(0, 0)}}
	r := Run(context.Background(), as, &Input{}, Config{}, sup)[0]
	if r.Status != Passed || r.Blocking || len(r.Findings) != 1 || r.Findings[0].Suppressed == nil || r.Findings[0].Suppressed.Reason != "test fixture" {
		t.Errorf("suppressed finding: %+v", r)
	}
}

func TestRunPanicAndTimeout(t *testing.T) {
	var logs bytes.Buffer
	as := []Analyzer{
		&stub{name: "panics", analyze: func(context.Context, *Input) (*Report, error) {
			var m map[string]int
			m["x"]++ // a real runtime panic, not a panic(string)
			return nil, nil
		}},
		&stub{name: "hangs", timeout: 20 * time.Millisecond, analyze: func(ctx context.Context, in *Input) (*Report, error) {
			select {} // ignores its context entirely
		}},
		&stub{name: "slowdep", requires: []string{"hangs"}, analyze: reporting()},
	}
	cfg := Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	res := byName(Run(context.Background(), as, &Input{}, cfg, nil))
	p := res["panics"]
	if p.Status != Errored || !strings.HasPrefix(p.Reason, "panic: assignment to entry in nil map") || strings.Contains(p.Reason, "goroutine") {
		t.Errorf("panic result: %+v", p)
	}
	if !strings.Contains(logs.String(), "runner_test.go") {
		t.Errorf("the stack was not logged: %s", logs.String())
	}
	if h := res["hangs"]; h.Status != Errored || !strings.HasPrefix(h.Reason, "timed out after") || !h.Blocking {
		t.Errorf("hang result: %+v", h)
	}
	if d := res["slowdep"]; d.Status != Skipped || !strings.Contains(d.Reason, "requires hangs, which was errored: timed out") || !d.Blocking {
		t.Errorf("dependent of a timed-out analyzer: %+v", d)
	}
}

func TestRunDependencies(t *testing.T) {
	t.Parallel()
	var seen atomic.Int32
	rec := func(name string) func(context.Context, *Input) (*Report, error) {
		return func(_ context.Context, in *Input) (*Report, error) {
			seen.Add(1)
			deps := make([]string, 0)
			for k := range in.Results {
				deps = append(deps, k)
			}
			return &Report{Detail: deps}, nil
		}
	}
	as := []Analyzer{
		&stub{name: "c", requires: []string{"b"}, analyze: rec("c")},
		&stub{name: "b", requires: []string{"a"}, analyze: rec("b")},
		&stub{name: "a", analyze: rec("a")},
		&stub{name: "x", requires: []string{"y"}, analyze: rec("x")},
		&stub{name: "y", requires: []string{"x"}, analyze: rec("y")},
		&stub{name: "u", requires: []string{"nope"}, analyze: rec("u")},
		&stub{name: "uu", requires: []string{"u"}, analyze: rec("uu")},
	}
	results := Run(context.Background(), as, &Input{}, Config{}, nil)
	var names []string
	for _, r := range results {
		names = append(names, r.Analyzer)
	}
	if got := strings.Join(names, ","); got != "a,b,c,u,uu,x,y" {
		t.Errorf("results in order %s", got)
	}
	res := byName(results)
	if string(res["c"].Detail) != `["b"]` || res["c"].Status != Passed {
		t.Errorf("c saw %s (%s); it must see exactly b's result", res["c"].Detail, res["c"].Status)
	}
	for _, n := range []string{"x", "y"} {
		if r := res[n]; r.Status != Errored || !strings.Contains(r.Reason, "dependency cycle") {
			t.Errorf("%s: %+v", n, r)
		}
	}
	if r := res["u"]; r.Status != Errored || !strings.Contains(r.Reason, `"nope"`) {
		t.Errorf("u: %+v", r)
	}
	if r := res["uu"]; r.Status != Skipped || !strings.Contains(r.Reason, "requires u") {
		t.Errorf("uu: %+v", r)
	}
	if seen.Load() != 3 {
		t.Errorf("%d analyzers ran, want 3 (a, b, c)", seen.Load())
	}
}

func TestRunParallel(t *testing.T) {
	// Two independent analyzers that each wait for the other to start can
	// only both finish when they run at the same time.
	if n := runtimeProcs(); n < 2 {
		t.Skipf("GOMAXPROCS is %d", n)
	}
	started := make(chan struct{}, 2)
	wait := func(ctx context.Context, _ *Input) (*Report, error) {
		started <- struct{}{}
		for {
			if len(started) == 2 {
				return &Report{}, nil
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	}
	as := []Analyzer{&stub{name: "p", timeout: 10 * time.Second, analyze: wait}, &stub{name: "q", timeout: 10 * time.Second, analyze: wait}}
	for _, r := range Run(context.Background(), as, &Input{}, Config{}, nil) {
		if r.Status != Passed {
			t.Errorf("%s: %s %s", r.Analyzer, r.Status, r.Reason)
		}
	}
}

func TestRunDeterministicFindings(t *testing.T) {
	t.Parallel()
	fs := []Finding{finding("a/z", Low, "b"), finding("a/y", High, "a"), finding("a/x", Medium, "b")}
	fs[2].Location.Line = 0
	as := []Analyzer{&stub{name: "a", analyze: reporting(fs...)}}
	r := Run(context.Background(), as, &Input{}, Config{}, nil)[0]
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.RuleID)
	}
	if strings.Join(got, ",") != "a/y,a/x,a/z" {
		t.Errorf("order %v", got)
	}
	b, _ := json.Marshal(r.Findings)
	r2 := Run(context.Background(), as, &Input{}, Config{}, nil)[0]
	b2, _ := json.Marshal(r2.Findings)
	if !bytes.Equal(b, b2) {
		t.Error("two runs gave different findings")
	}
}

func TestRunUnknownSeverityErrors(t *testing.T) {
	t.Parallel()
	as := []Analyzer{&stub{name: "a", analyze: reporting(finding("a/x", "severe", "f"))}}
	if r := Run(context.Background(), as, &Input{}, Config{}, nil)[0]; r.Status != Errored {
		t.Errorf("unknown severity: %+v", r)
	}
}

func TestRunCapsFindings(t *testing.T) {
	t.Parallel()
	var fs []Finding
	for i := range MaxFindings + 10 {
		fs = append(fs, finding("a/low", Low, fmt.Sprintf("f%05d", i)))
	}
	fs = append(fs, finding("a/high", High, "zzz"))
	as := []Analyzer{&stub{name: "a", analyze: reporting(fs...)}}
	r := Run(context.Background(), as, &Input{}, Config{}, nil)[0]
	if len(r.Findings) != MaxFindings || r.Status != Failed || !strings.Contains(r.Reason, "11 findings were left out") {
		t.Errorf("%d findings, status %s, reason %q", len(r.Findings), r.Status, r.Reason)
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(`{"analyzers":{"diff":{"enabled":true}},"rules":{"a/b":{"enabled":false}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.AnalyzerMode("diff"); !m.Enabled || m.Enforced || m.Required {
		t.Errorf("diff mode %+v", m)
	}
	if m := c.AnalyzerMode("other"); m != DefaultMode {
		t.Errorf("default mode %+v", m)
	}
	if m := c.RuleMode("other", "other/r"); m != DefaultMode {
		t.Errorf("default rule mode %+v", m)
	}
	for _, bad := range []string{
		`{"analyzers":{"a":{"enabled":false,"required":true}}}`,
		`{"rules":{"norule":{"enabled":true}}}`,
		`{"analyser":{}}`,
		`{} {}`,
		`[`,
	} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%s) succeeded", bad)
		}
	}
	as := []Analyzer{&stub{name: "a", rules: []Rule{{ID: "a/b"}}}}
	if err := (Config{Rules: map[string]Mode{"a/b": {}}}).Check(as); err != nil {
		t.Error(err)
	}
	if err := (Config{Analyzers: map[string]Mode{"secret": {}}}).Check(as); err == nil || !strings.Contains(err.Error(), `"secret"`) {
		t.Errorf("Check with a typo: %v", err)
	}
}

func TestFingerprintAndLineCol(t *testing.T) {
	t.Parallel()
	if Fingerprint("r", "ab", "c") == Fingerprint("r", "a", "bc") {
		t.Error("fingerprint parts run together")
	}
	if len(Fingerprint("r")) != 32 {
		t.Error("fingerprint length")
	}
	text := []byte("ab\ncd\n")
	for _, c := range []struct{ off, line, col int }{{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2}, {99, 3, 1}} {
		if l, col := LineCol(text, c.off); l != c.line || col != c.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", c.off, l, col, c.line, c.col)
		}
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

func TestPointerLine(t *testing.T) {
	t.Parallel()
	doc := []byte("{\n  \"id\": \"a/b\",\n  \"permissions\": [\n    \"kv:read\",\n    \"net:https://x.example.com\"\n  ],\n  \"a/b\": {\"c~d\": 1}\n}\n")
	for _, c := range []struct {
		ptr       string
		line, col int
		ok        bool
	}{
		{"", 1, 1, true},
		{"/id", 2, 9, true},
		{"/permissions", 3, 18, true},
		{"/permissions/1", 5, 5, true},
		{"/a~1b/c~0d", 7, 18, true},
		{"/permissions/2", 0, 0, false},
		{"/nope", 0, 0, false},
	} {
		l, col, ok := PointerLine(doc, c.ptr)
		if l != c.line || col != c.col || ok != c.ok {
			t.Errorf("PointerLine(%q) = %d:%d %v, want %d:%d %v", c.ptr, l, col, ok, c.line, c.col, c.ok)
		}
	}
	if _, _, ok := PointerLine([]byte("{"), "/x"); ok {
		t.Error("broken JSON gave a position")
	}
}

func TestIsText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 8<<10) // the 8 KiB window cuts a rune
	for _, c := range []struct {
		in   string
		want bool
	}{{"hello\n", true}, {"", true}, {long, true}, {"a\x00b", false}, {"\xff\xfe", false}} {
		if got := IsText([]byte(c.in)); got != c.want {
			t.Errorf("IsText(%.10q) = %v", c.in, got)
		}
	}
}
