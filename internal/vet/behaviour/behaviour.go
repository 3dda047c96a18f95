// Package behaviour runs a package's test scenarios (tests/*.json) in the
// sandbox and reports how the plugin behaved: host calls the sandbox
// refused, outputs that differ from the scenario's expectation, outputs
// that differ between two runs of the same input, limits the plugin broke,
// and scenarios that could not run at all.
//
// It runs the scenarios through package sandbox/scenario, the code the
// host and the plugin author's tests use, on a sandbox.Runtime of its own.
// Nothing the package names on the host is ever read: the module comes
// from the package, and every mount its fs:read permissions ask for is the
// package's own folder of that name, copied to a private temporary
// folder. Fetches are answered only by the scenario's fakes (the scenario
// runner replaces the network leg of every fetch), secrets are never
// available, and each scenario gets an empty key-value store of its own.
package behaviour

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/plugindeps"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// Name is the analyzer's name.
const Name = "behaviour"

// Version changes whenever the analyzer's own logic changes.
const Version = "1.1.0"

// Rule ids.
const (
	RuleDeniedCall       = Name + "/denied-call"
	RuleUnexpectedOutput = Name + "/unexpected-output"
	RuleNondeterministic = Name + "/nondeterministic"
	RuleScenarioError    = Name + "/scenario-error"
	RuleLimitBreach      = Name + "/limit-breach"
	// RuleWorkflowFailed: an integration workflow (tests/workflows/*.json)
	// did not give what it expects.
	RuleWorkflowFailed = Name + "/workflow-failed"
	// RuleDependencyUnavailable: the version declares dependencies and has
	// workflows, but no set of certified versions satisfies the ranges, so
	// the workflows cannot run; vetting fails closed.
	RuleDependencyUnavailable = Name + "/dependency-unavailable"
)

// Limits on what one analysis runs: each scenario runs twice, each run up
// to the call timeout, so these bound the analysis's time together with
// Options.Timeout.
const (
	maxScenarioFiles = 64
	maxScenarios     = 500
	maxMessage       = 300 // bytes of plugin output quoted in a message
	maxCallsShown    = 100 // host calls listed per scenario in Detail
)

// Options configure the analyzer.
type Options struct {
	// CacheDir holds compiled modules across runs. Empty means a
	// temporary folder the analyzer removes on Close.
	CacheDir string
	// Registerer receives the sandbox's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger receives the sandbox's logs; nil discards them.
	Logger *slog.Logger
	// Timeout bounds one analysis (default 2 minutes).
	Timeout time.Duration
	// MaxCallTimeout caps one call, whatever the manifest asks (default
	// 10 seconds): vetting runs every scenario twice.
	MaxCallTimeout time.Duration
	// Dependencies are the marketplace's certified versions: a version
	// that declares dependencies runs its integration workflows against
	// the versions resolved from them, as install would pick. Nil leaves
	// those workflows unrun, and Detail says so (`gatehouse vet` has no
	// marketplace; the server always sets it).
	Dependencies plugindeps.Catalog
	// HostAPI, when set, is the host API version the sandbox offers (only
	// its functions are linked), so the scenarios run as they would on a
	// host running that version; nil offers this build's (vetting).
	HostAPI *hostapi.Spec
	// CompiledOnly runs the scenarios on wazero's compiler alone. By
	// default they run first on its interpreter, which has a new module
	// ready in a fraction of the compile's CPU time (docs/decisions.md),
	// and again compiled only when a run hit a limit or the module did
	// not load (Detail.Engine says so): speed decides a time limit, so
	// only the engine that runs the plugin in production may report one.
	// A binary built with the race detector runs compiled only (race.go).
	CompiledOnly bool
}

// Analyzer is the behaviour analyzer. It is safe for concurrent use.
type Analyzer struct {
	rt *sandbox.Runtime
	// fast is the interpreter's runtime, nil with Options.CompiledOnly.
	// Both runtimes live as long as the analyzer, so every version vetted
	// reuses them.
	fast     *sandbox.Runtime
	deps     plugindeps.Catalog
	ownCache string // removed on Close
	timeout  time.Duration
}

// New builds the analyzer and its sandbox runtime. Close it when done.
func New(opts Options) (*Analyzer, error) {
	a := &Analyzer{timeout: opts.Timeout, deps: opts.Dependencies}
	if a.timeout <= 0 {
		a.timeout = 2 * time.Minute
	}
	cache := opts.CacheDir
	if cache == "" {
		dir, err := os.MkdirTemp("", "gatehouse-behaviour-cache-")
		if err != nil {
			return nil, fmt.Errorf("behaviour: creating the compilation cache: %w", err)
		}
		cache, a.ownCache = dir, dir
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	callTimeout := opts.MaxCallTimeout
	if callTimeout <= 0 {
		callTimeout = 10 * time.Second
	}
	cfg := sandbox.Config{
		CacheDir:   cache,
		MaxTimeout: callTimeout,
		HostAPI:    opts.HostAPI,
		// Each scenario run's store comes with its context (scenario.KV):
		// runs, and analyses of two versions at once, never share keys.
		KV: scenario.KV{},
		// Secrets and Data stay nil: no secret is ever available in
		// vetting, and data scopes come from the scenario's fakes.
		// Scenarios that expect errors must not trip the breaker.
		Breaker:    sandbox.BreakerConfig{Disabled: true},
		Logger:     logger,
		Registerer: opts.Registerer,
	}
	rt, err := sandbox.NewRuntime(cfg)
	if err == nil && !opts.CompiledOnly && !raceBuild {
		cfg.Interpreter = true
		// The compiled runtime registers the metrics; the same names
		// cannot be registered twice.
		cfg.Registerer = nil
		a.fast, err = sandbox.NewRuntime(cfg)
		if err != nil {
			rt.Close(context.Background())
		}
	}
	if err != nil {
		if a.ownCache != "" {
			os.RemoveAll(a.ownCache)
		}
		return nil, fmt.Errorf("behaviour: starting the sandbox: %w", err)
	}
	a.rt = rt
	return a, nil
}

// Close releases the sandbox runtime and a temporary compilation cache.
func (a *Analyzer) Close(ctx context.Context) error {
	err := a.rt.Close(ctx)
	if a.fast != nil {
		err = errors.Join(err, a.fast.Close(ctx))
	}
	if a.ownCache != "" {
		err = errors.Join(err, os.RemoveAll(a.ownCache))
	}
	return err
}

func (*Analyzer) Name() string             { return Name }
func (*Analyzer) Version() string          { return Version }
func (*Analyzer) Requires() []string       { return nil }
func (a *Analyzer) Timeout() time.Duration { return a.timeout }

// ExpectedDuration implements vet.Estimator: the scenarios run the
// plugin in the sandbox, 0.5–0.9 s for an update on 2 busy cores, one
// of the longest with the rebuild (issue 21).
func (*Analyzer) ExpectedDuration() time.Duration { return 1500 * time.Millisecond }

// Rules lists the analyzer's rules.
func (*Analyzer) Rules() []vet.Rule {
	return []vet.Rule{
		{ID: RuleDeniedCall, Name: "denied-call", Severity: vet.High, Remediation: remDenied,
			Description: "A scenario made the plugin call a host function for something its permissions do not grant, and the sandbox refused."},
		{ID: RuleUnexpectedOutput, Name: "unexpected-output", Severity: vet.Medium, Remediation: remOutput,
			Description: "A scenario's output (or error) differs from what the scenario expects."},
		{ID: RuleNondeterministic, Name: "nondeterministic", Severity: vet.Low, Remediation: remNondet,
			Description: "Two runs of the same scenario produced different outputs, errors or host calls."},
		{ID: RuleScenarioError, Name: "scenario-error", Severity: vet.Medium, Remediation: remScenario,
			Description: "A scenario file does not parse, names an export that does not exist, or the plugin cannot be loaded in the sandbox."},
		{ID: RuleLimitBreach, Name: "limit-breach", Severity: vet.High, Remediation: remLimit,
			Description: "A scenario ran past the plugin's time, memory, output or host-call limit and the sandbox stopped it."},
		{ID: RuleWorkflowFailed, Name: "workflow-failed", Severity: vet.Medium, Remediation: remWorkflow,
			Description: "An integration workflow chaining the plugin with its dependencies' certified versions did not give what it expects, or gave it differently on two runs."},
		{ID: RuleDependencyUnavailable, Name: "dependency-unavailable", Severity: vet.High, Remediation: remDependency,
			Description: "The version declares dependencies and has integration workflows, but no set of certified versions satisfies the declared ranges, so the workflows cannot run."},
	}
}

const (
	remDenied     = "If the plugin needs this, declare the permission in the manifest (a net: permission for a fetch's origin, secret:NAME for a secret) so reviewers see it; otherwise remove the call. A plugin that reaches for capabilities it was not granted is treated as suspect."
	remOutput     = "Fix the plugin or the scenario so they agree: run the scenario locally with `gatehouse vet` and compare the output with the scenario's expected value."
	remNondet     = "Make the output depend only on the input and the faked responses: avoid clocks, randomness and map iteration order in what the plugin returns."
	remScenario   = "Check the scenario file against the documented format (name, export, input, expected or expectedError, fetch and data fakes) and that the export exists in the module and the manifest."
	remWorkflow   = "Run the workflow locally with `gatehouse plugin test` against the same dependency versions (--deps with their packages, or the marketplace) and make the plugin and the workflow agree; a dependency's output is its certified version's, so adapt to it or pin another range."
	remDependency = "Declare ranges that certified versions satisfy (see the catalog), or wait until the dependency is certified and submit again; vetting does not run workflows against uncertified plugins."
	remLimit      = "Bound the work one call does (loops, allocations, output, host calls) so it stays within the manifest's limits, or raise the limit in the manifest if the plugin truly needs more."
)

// Detail is the analyzer's Detail.
type Detail struct {
	Files     []string `json:"files"`
	Passed    int      `json:"passed"`
	Failed    int      `json:"failed"`
	Scenarios []Run    `json:"scenarios"`
	// Mounts maps each mount path to the package folder mounted there;
	// an empty folder name means the package has no such folder and an
	// empty folder was mounted.
	Mounts map[string]string `json:"mounts,omitempty"`
	// WorkflowFiles are the integration workflow files; Workflows their
	// outcomes; Dependencies the versions they ran against (id@version);
	// WorkflowCheck says whether they ran ("checked") or why not.
	WorkflowFiles []string      `json:"workflowFiles,omitempty"`
	Workflows     []WorkflowRun `json:"workflows,omitempty"`
	Dependencies  []string      `json:"dependencies,omitempty"`
	WorkflowCheck string        `json:"workflowCheck,omitempty"`
	// Engine is the wazero engine whose runs these are: EngineInterpreter,
	// or EngineCompiler (with why, when the interpreter's runs were set
	// aside). Durations are the engine's.
	Engine string `json:"engine"`
}

// WorkflowRun is one workflow's outcome, as Detail lists it.
type WorkflowRun struct {
	File   string `json:"file"`
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Steps name each step run: plugin@version export.
	Steps      []string      `json:"steps"`
	FailedStep int           `json:"failedStep,omitempty"`
	ErrorKind  string        `json:"errorKind,omitempty"`
	Problem    string        `json:"problem,omitempty"`
	Duration   time.Duration `json:"durationNs"`
}

// Run is one scenario's outcome, as Detail lists it.
type Run struct {
	File        string        `json:"file"`
	Name        string        `json:"name"`
	Export      string        `json:"export"`
	Passed      bool          `json:"passed"`
	Duration    time.Duration `json:"durationNs"`
	MemoryBytes uint64        `json:"memoryBytes"`
	// HostCalls lists the first run's host calls in order, the first
	// maxCallsShown of them; HostCallCount counts them all.
	HostCalls     []sandbox.HostCall `json:"hostCalls"`
	HostCallCount int                `json:"hostCallCount"`
	Denied        int                `json:"denied"`
	ErrorKind     string             `json:"errorKind,omitempty"`
	// Problem says what went wrong, redacted and truncated.
	Problem string   `json:"problem,omitempty"`
	Unfaked []string `json:"unfaked,omitempty"`
}

// Engines, as Detail reports them.
const (
	EngineInterpreter = "interpreter"
	EngineCompiler    = "compiler"
)

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	if a.fast == nil {
		rep, _, err := a.analyze(ctx, in, a.rt)
		if rep != nil {
			rep.Detail.(*Detail).Engine = EngineCompiler
		}
		return rep, err
	}
	rep, again, err := a.analyze(ctx, in, a.fast)
	if err != nil || again == "" {
		if rep != nil {
			rep.Detail.(*Detail).Engine = EngineInterpreter
		}
		return rep, err
	}
	rep, _, err = a.analyze(ctx, in, a.rt)
	if rep != nil {
		rep.Detail.(*Detail).Engine = EngineCompiler + " (run again compiled: on the interpreter " + again + ")"
	}
	return rep, err
}

// analyze runs the scenarios and workflows on rt. again, when not empty,
// says why the result may depend on the engine's speed: a run hit a
// limit, or the module did not load.
func (a *Analyzer) analyze(ctx context.Context, in *vet.Input, rt *sandbox.Runtime) (rep *vet.Report, again string, err error) {
	switch {
	case in.Package == nil:
		return nil, "", errors.New("no package to analyse")
	case in.Manifest == nil:
		return nil, "", fmt.Errorf("%w: the manifest did not parse, so the plugin cannot be loaded (the manifest analyzer says why)", vet.ErrSkipped)
	case in.Module == nil:
		return nil, "", fmt.Errorf("%w: the package holds no module %s to run", vet.ErrSkipped, in.Manifest.Runtime.Module)
	}
	var files []string
	for _, e := range in.Package.Files {
		if ok, _ := path.Match("tests/*.json", e.Path); ok {
			files = append(files, e.Path)
		}
	}
	wfiles, err := plugindeps.WorkflowFiles(in.Package)
	if err != nil {
		return nil, "", err
	}
	if len(files) == 0 && len(wfiles) == 0 {
		return nil, "", fmt.Errorf("%w: the package has no test scenarios (tests/*.json) or workflows (tests/workflows/*.json)", vet.ErrSkipped)
	}
	if len(files) > maxScenarioFiles {
		return nil, "", fmt.Errorf("the package has %d scenario files; the limit is %d", len(files), maxScenarioFiles)
	}

	tmp, err := os.MkdirTemp("", "gatehouse-behaviour-")
	if err != nil {
		return nil, "", fmt.Errorf("creating a folder for the mounts: %w", err)
	}
	defer os.RemoveAll(tmp)
	d := &Detail{Files: files, Scenarios: []Run{}, WorkflowFiles: wfiles}
	req := sandbox.LoadRequest{Manifest: in.Manifest, Module: in.Module}
	req.Mounts, d.Mounts, err = mounts(tmp, in)
	if err != nil {
		return nil, "", err
	}
	// The scenario runner replaces this with its fakes for every load;
	// refusing here as well means no path ever leads to the network.
	req.HTTPTransport = noNetwork{}

	r := &report{}
	total := 0
	runner := scenario.NewRunner(rt, req, "")
	defer runner.Close()
	for _, file := range files {
		data, _ := in.Package.File(file)
		list, err := scenario.Parse(data)
		if err != nil {
			r.add(unreadable(file, "scenarios", err))
			continue
		}
		for _, s := range list {
			if total++; total > maxScenarios {
				return nil, "", fmt.Errorf("the package has more than %d scenarios; the limit is %d", maxScenarios, maxScenarios)
			}
			loc := vet.Location{File: file}
			if q, err := json.Marshal(s.Name); err == nil {
				if i := bytes.Index(data, q); i >= 0 {
					loc.Line, loc.Column = vet.LineCol(data, i)
				}
			}
			run, loadErr := a.run(ctx, runner, s)
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
			run.File = file
			if loadErr != nil {
				// The plugin does not load: no scenario can run.
				r.add(vet.Finding{
					RuleID:      RuleScenarioError,
					Severity:    vet.High,
					Message:     fmt.Sprintf("the plugin cannot be loaded in the sandbox, so no scenario ran: %s", clip(loadErr.Error())),
					Location:    vet.Location{File: in.Manifest.Runtime.Module},
					Fingerprint: vet.Fingerprint(RuleScenarioError, in.Manifest.Runtime.Module, "load"),
					Remediation: remScenario,
				})
				return r.finish(d), "the module did not load", nil
			}
			r.scenario(s, run, loc)
			d.Scenarios = append(d.Scenarios, run.Run)
			if run.Passed {
				d.Passed++
			} else {
				d.Failed++
			}
		}
	}
	if err := a.workflows(ctx, rt, in, req, tmp, wfiles, r, d); err != nil {
		return nil, "", err
	}
	return r.finish(d), d.limitHit(), nil
}

// limitHit says which run, if any, the sandbox stopped at a limit or
// could not set up: the outcomes an engine's speed can change.
func (d *Detail) limitHit() string {
	engineBound := func(kind string) bool {
		k := sandbox.ErrorKind(kind)
		return limitKinds[k] != "" || setupKinds[k]
	}
	for _, r := range d.Scenarios {
		if engineBound(r.ErrorKind) {
			return fmt.Sprintf("scenario %q ended with %s", r.Name, r.ErrorKind)
		}
	}
	for _, w := range d.Workflows {
		if engineBound(w.ErrorKind) {
			return fmt.Sprintf("workflow %q ended with %s", w.Name, w.ErrorKind)
		}
	}
	return ""
}

// outcome is a scenario's Run plus what the findings need.
type outcome struct {
	Run
	denied           []sandbox.HostCall
	mismatch         string
	nondeterministic bool
	difference       string
	callErr          string // the first run's error, when it failed
}

// run runs one scenario; the runner gives each run the store the scenario
// starts from.
func (a *Analyzer) run(ctx context.Context, runner *scenario.Runner, s scenario.Scenario) (outcome, error) {
	res, err := runner.Run(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		return outcome{}, err
	}
	o := outcome{
		Run: Run{
			Name:          s.Name,
			Export:        s.Export,
			Passed:        res.Passed,
			Duration:      res.Duration,
			MemoryBytes:   res.MemoryBytes,
			HostCalls:     redactCalls(res.HostCalls[:min(len(res.HostCalls), maxCallsShown)]),
			HostCallCount: len(res.HostCalls),
			Denied:        len(res.Denied),
			ErrorKind:     string(res.ErrorKind),
			Unfaked:       redactAll(res.Unfaked),
		},
		denied:           res.Denied,
		mismatch:         res.Mismatch,
		nondeterministic: res.Nondeterministic,
		difference:       res.Difference,
		callErr:          res.Error,
	}
	switch {
	case res.Mismatch != "":
		o.Problem = clip(res.Mismatch)
	case res.Nondeterministic:
		o.Problem = clip(res.Difference)
	}
	return o, nil
}

// report collects findings, one per fingerprint.
type report struct {
	findings []vet.Finding
	seen     map[string]bool
}

func (r *report) add(f vet.Finding) {
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if r.seen[f.Fingerprint] {
		return
	}
	r.seen[f.Fingerprint] = true
	r.findings = append(r.findings, f)
}

func (r *report) finish(d *Detail) *vet.Report {
	vet.SortFindings(r.findings)
	return &vet.Report{Findings: r.findings, Detail: d}
}

// limitKinds are the error kinds of a call the sandbox stopped for
// breaking a limit.
var limitKinds = map[sandbox.ErrorKind]string{
	sandbox.KindTimeout:        "ran past its time limit",
	sandbox.KindOutOfMemory:    "needed more memory than its limit",
	sandbox.KindOutputTooLarge: "produced more output than its limit",
	sandbox.KindThrottled:      "made more host calls than its limit",
}

// setupKinds are error kinds that say the scenario could not run as
// written, rather than anything about the plugin's answer.
var setupKinds = map[sandbox.ErrorKind]bool{
	sandbox.KindLoadFailed:  true,
	sandbox.KindBreakerOpen: true,
	sandbox.KindCanceled:    true,
}

// scenario turns one scenario's outcome into findings.
func (r *report) scenario(s scenario.Scenario, o outcome, loc vet.Location) {
	where := fmt.Sprintf("scenario %q (%s)", s.Name, o.File)
	props := func() map[string]any {
		return map[string]any{"scenario": s.Name, "export": s.Export, "errorKind": o.ErrorKind}
	}
	for _, hc := range o.denied {
		target := redact(hc.Target)
		p := props()
		p["function"], p["target"] = hc.Function, target
		r.add(vet.Finding{
			RuleID:      RuleDeniedCall,
			Severity:    vet.High,
			Message:     fmt.Sprintf("%s: the plugin called %s for %q, which its permissions do not grant; the sandbox refused", where, hc.Function, target),
			Location:    loc,
			Fingerprint: vet.Fingerprint(RuleDeniedCall, o.File, s.Name, hc.Function, hc.Target),
			Remediation: remDenied,
			Properties:  p,
		})
	}
	kind := sandbox.ErrorKind(o.ErrorKind)
	switch {
	case limitKinds[kind] != "":
		r.add(vet.Finding{
			RuleID:      RuleLimitBreach,
			Severity:    vet.High,
			Message:     fmt.Sprintf("%s: the plugin %s and the sandbox stopped it", where, limitKinds[kind]),
			Location:    loc,
			Fingerprint: vet.Fingerprint(RuleLimitBreach, o.File, s.Name, o.ErrorKind),
			Remediation: remLimit,
			Properties:  props(),
		})
	case setupKinds[kind] || (o.callErr != "" && kind == ""):
		// A call that never ran: an export that does not exist, a
		// closed plugin (an error that is not a call error).
		r.add(vet.Finding{
			RuleID:      RuleScenarioError,
			Severity:    vet.Medium,
			Message:     fmt.Sprintf("%s could not run: %s", where, clip(cmp.Or(o.mismatch, o.callErr))),
			Location:    loc,
			Fingerprint: vet.Fingerprint(RuleScenarioError, o.File, s.Name),
			Remediation: remScenario,
			Properties:  props(),
		})
	case o.mismatch != "":
		msg := fmt.Sprintf("%s: %s", where, clip(o.mismatch))
		if len(o.Unfaked) > 0 {
			msg += fmt.Sprintf("; fetches without a fake response: %s", strings.Join(o.Unfaked, ", "))
		}
		p := props()
		if len(s.Expect.Output) > 0 {
			p["expected"] = clip(string(s.Expect.Output))
		}
		if s.Expect.Error != "" {
			p["expectedError"] = clip(s.Expect.Error)
		}
		if s.Expect.ErrorKind != "" {
			p["expectedErrorKind"] = string(s.Expect.ErrorKind)
		}
		r.add(vet.Finding{
			RuleID:      RuleUnexpectedOutput,
			Severity:    vet.Medium,
			Message:     msg,
			Location:    loc,
			Fingerprint: vet.Fingerprint(RuleUnexpectedOutput, o.File, s.Name),
			Remediation: remOutput,
			Properties:  p,
		})
	}
	if o.nondeterministic {
		r.add(vet.Finding{
			RuleID:      RuleNondeterministic,
			Severity:    vet.Low,
			Message:     fmt.Sprintf("%s: two runs of the same input differ: %s", where, clip(o.difference)),
			Location:    loc,
			Fingerprint: vet.Fingerprint(RuleNondeterministic, o.File, s.Name),
			Remediation: remNondet,
			Properties:  props(),
		})
	}
}

// mounts mounts the package's own folders for its fs:read permissions
// (plugindeps.Mounts: fs:read:/templates mounts the package's templates/
// folder, copied to a private folder, read-only).
func mounts(tmp string, in *vet.Input) (map[string]string, map[string]string, error) {
	host, shown, err := plugindeps.Mounts(tmp, in.Package, in.Manifest)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", vet.ErrSkipped, err)
	}
	return host, shown, nil
}

// noNetwork is the transport of last resort: it refuses every request.
type noNetwork struct{}

func (noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, errors.New("vetting never reaches the network; the scenario has no fake response for this request")
}

// tokenRE matches runs that look like keys or tokens: 20 or more
// characters of the alphabets keys use.
var tokenRE = regexp.MustCompile(`[A-Za-z0-9_\-+/=.]{20,}`)

// redact shortens what looks like a key or token to its first four
// characters, so a plugin's output quoted in a finding never carries a
// credential whole. Plain words and long numbers are left alone.
func redact(s string) string {
	return tokenRE.ReplaceAllStringFunc(s, func(t string) string {
		var letters, digits bool
		for _, c := range t {
			switch {
			case c >= '0' && c <= '9':
				digits = true
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
				letters = true
			}
		}
		if !letters || !digits {
			return t
		}
		// Paths, URLs and host names are not keys; a JWT has dots too
		// but starts with an encoded "{".
		if strings.HasPrefix(t, "/") || strings.Contains(t, "//") ||
			(strings.Count(t, ".") >= 2 && !strings.HasPrefix(t, "eyJ")) {
			return t
		}
		return t[:4] + "…"
	})
}

func redactAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = redact(s)
	}
	return out
}

func redactCalls(calls []sandbox.HostCall) []sandbox.HostCall {
	out := slices.Clone(calls)
	for i := range out {
		out[i].Target = redact(out[i].Target)
	}
	if out == nil {
		out = []sandbox.HostCall{}
	}
	return out
}

// clip redacts s and bounds its length.
func clip(s string) string {
	s = redact(s)
	if len(s) <= maxMessage {
		return s
	}
	n := maxMessage
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// workflows runs the package's integration workflows: the plugin under
// test (self, as the scenarios load it) chained with the certified
// versions of the dependencies it declares, resolved as install would.
// A version whose dependencies cannot be resolved fails closed with a
// finding; its workflows do not run.
func (a *Analyzer) workflows(ctx context.Context, rt *sandbox.Runtime, in *vet.Input, self sandbox.LoadRequest, tmp string, files []string, r *report, d *Detail) error {
	type parsed struct {
		file string
		w    scenario.Workflow
		loc  vet.Location
	}
	var list []parsed
	for _, file := range files {
		data, _ := in.Package.File(file)
		ws, err := scenario.ParseWorkflows(data)
		if err != nil {
			r.add(unreadable(file, "workflows", err))
			continue
		}
		for _, w := range ws {
			if len(list) >= maxScenarios {
				return fmt.Errorf("the package has more than %d workflows; the limit is %d", maxScenarios, maxScenarios)
			}
			loc := vet.Location{File: file}
			if q, err := json.Marshal(w.Name); err == nil {
				if i := bytes.Index(data, q); i >= 0 {
					loc.Line, loc.Column = vet.LineCol(data, i)
				}
			}
			list = append(list, parsed{file: file, w: w, loc: loc})
		}
	}
	if len(list) == 0 {
		return nil
	}
	id := in.Manifest.ID
	plugins := map[string]sandbox.LoadRequest{id: self}
	if len(in.Manifest.Dependencies) > 0 {
		if a.deps == nil {
			d.WorkflowCheck = "skipped: no catalog of certified versions to resolve the dependencies from; the marketplace runs the workflows when the version is submitted"
			return nil
		}
		resolved, err := plugindeps.Resolve(ctx, a.deps, in.Manifest)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, plugindeps.ErrMissing), errors.Is(err, plugindeps.ErrConflict), errors.Is(err, plugindeps.ErrCycle), errors.Is(err, plugindeps.ErrLimit):
			d.WorkflowCheck = "failed closed: " + clip(err.Error())
			r.add(vet.Finding{
				RuleID:      RuleDependencyUnavailable,
				Severity:    vet.High,
				Message:     fmt.Sprintf("the integration workflows cannot run against certified dependencies: %s", clip(err.Error())),
				Location:    vet.Location{File: manifest.FileName},
				Fingerprint: vet.Fingerprint(RuleDependencyUnavailable, id),
				Remediation: remDependency,
			})
			return nil
		case err != nil:
			return fmt.Errorf("resolving the dependencies for the workflows: %w", err)
		}
		reqs, err := plugindeps.Requests(tmp, resolved, nil)
		if err != nil {
			return err
		}
		for _, p := range resolved {
			d.Dependencies = append(d.Dependencies, p.ID+"@"+p.Version)
			req := reqs[p.ID]
			req.HTTPTransport = noNetwork{} // replaced by each step's fakes
			plugins[p.ID] = req
		}
	}
	d.WorkflowCheck = "checked"
	for _, p := range list {
		where := fmt.Sprintf("workflow %q (%s)", p.w.Name, p.file)
		fail := func(rule string, sev vet.Severity, msg, rem string, extra ...string) {
			r.add(vet.Finding{
				RuleID: rule, Severity: sev, Message: msg, Location: p.loc,
				Fingerprint: vet.Fingerprint(rule, append([]string{p.file, p.w.Name}, extra...)...),
				Remediation: rem,
				Properties:  map[string]any{"workflow": p.w.Name},
			})
		}
		if err := plugindeps.CheckPlugins(p.w, id, plugins); err != nil {
			fail(RuleScenarioError, vet.Medium, fmt.Sprintf("%s cannot run: %s", where, clip(err.Error())), remScenario)
			d.Workflows = append(d.Workflows, WorkflowRun{File: p.file, Name: p.w.Name, Steps: []string{}, Problem: clip(err.Error())})
			continue
		}
		res, err := scenario.RunWorkflow(ctx, rt, plugins, p.w)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			fail(RuleScenarioError, vet.Medium, fmt.Sprintf("%s could not run: %s", where, clip(err.Error())), remScenario)
			d.Workflows = append(d.Workflows, WorkflowRun{File: p.file, Name: p.w.Name, Steps: []string{}, Problem: clip(err.Error())})
			continue
		}
		run := WorkflowRun{File: p.file, Name: p.w.Name, Passed: res.Passed, Steps: []string{}, FailedStep: res.FailedStep,
			ErrorKind: string(res.ErrorKind), Duration: res.Duration}
		for i, st := range res.Steps {
			run.Steps = append(run.Steps, fmt.Sprintf("%s@%s %s", st.Plugin, st.Version, st.Export))
			if st.Plugin != id {
				continue
			}
			for _, hc := range st.Denied {
				target := redact(hc.Target)
				fail(RuleDeniedCall, vet.High, fmt.Sprintf("%s, step %d: the plugin called %s for %q, which its permissions do not grant; the sandbox refused", where, i+1, hc.Function, target), remDenied, hc.Function, hc.Target)
			}
			if k := sandbox.ErrorKind(st.ErrorKind); limitKinds[k] != "" {
				fail(RuleLimitBreach, vet.High, fmt.Sprintf("%s, step %d: the plugin %s and the sandbox stopped it", where, i+1, limitKinds[k]), remLimit, string(k))
			}
		}
		switch {
		case res.Mismatch != "":
			run.Problem = clip(res.Mismatch)
			fail(RuleWorkflowFailed, vet.Medium, fmt.Sprintf("%s: %s", where, run.Problem), remWorkflow)
		case res.Nondeterministic:
			run.Problem = clip(res.Difference)
			fail(RuleWorkflowFailed, vet.Medium, fmt.Sprintf("%s: two runs differ: %s", where, run.Problem), remWorkflow)
		}
		d.Workflows = append(d.Workflows, run)
	}
	return nil
}

// unreadable is the finding for a scenario or workflow file (what) that
// does not parse.
func unreadable(file, what string, err error) vet.Finding {
	return vet.Finding{
		RuleID:      RuleScenarioError,
		Severity:    vet.Medium,
		Message:     fmt.Sprintf("%s: the %s cannot be read: %s", file, what, clip(err.Error())),
		Location:    vet.Location{File: file},
		Fingerprint: vet.Fingerprint(RuleScenarioError, file),
		Remediation: remScenario,
	}
}
