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
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/internal/vet"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
	"gatehouse.dev/gatehouse/sandbox/scenario"
)

// Name is the analyzer's name.
const Name = "behaviour"

// Version changes whenever the analyzer's own logic changes.
const Version = "1.0.0"

// Rule ids.
const (
	RuleDeniedCall       = Name + "/denied-call"
	RuleUnexpectedOutput = Name + "/unexpected-output"
	RuleNondeterministic = Name + "/nondeterministic"
	RuleScenarioError    = Name + "/scenario-error"
	RuleLimitBreach      = Name + "/limit-breach"
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
	// HostAPI, when set, is the host API version the sandbox offers (only
	// its functions are linked), so the scenarios run as they would on a
	// host running that version; nil offers this build's (vetting).
	HostAPI *hostapi.Spec
}

// Analyzer is the behaviour analyzer. It is safe for concurrent use.
type Analyzer struct {
	rt       *sandbox.Runtime
	ownCache string // removed on Close
	timeout  time.Duration
}

// New builds the analyzer and its sandbox runtime. Close it when done.
func New(opts Options) (*Analyzer, error) {
	a := &Analyzer{timeout: opts.Timeout}
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
	rt, err := sandbox.NewRuntime(sandbox.Config{
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
	})
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
	if a.ownCache != "" {
		err = errors.Join(err, os.RemoveAll(a.ownCache))
	}
	return err
}

func (*Analyzer) Name() string             { return Name }
func (*Analyzer) Version() string          { return Version }
func (*Analyzer) Requires() []string       { return nil }
func (a *Analyzer) Timeout() time.Duration { return a.timeout }

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
	}
}

const (
	remDenied   = "If the plugin needs this, declare the permission in the manifest (a net: permission for a fetch's origin, secret:NAME for a secret) so reviewers see it; otherwise remove the call. A plugin that reaches for capabilities it was not granted is treated as suspect."
	remOutput   = "Fix the plugin or the scenario so they agree: run the scenario locally with `gatehouse vet` and compare the output with the scenario's expected value."
	remNondet   = "Make the output depend only on the input and the faked responses: avoid clocks, randomness and map iteration order in what the plugin returns."
	remScenario = "Check the scenario file against the documented format (name, export, input, expected or expectedError, fetch and data fakes) and that the export exists in the module and the manifest."
	remLimit    = "Bound the work one call does (loops, allocations, output, host calls) so it stays within the manifest's limits, or raise the limit in the manifest if the plugin truly needs more."
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

// Analyze implements vet.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *vet.Input) (*vet.Report, error) {
	switch {
	case in.Package == nil:
		return nil, errors.New("no package to analyse")
	case in.Manifest == nil:
		return nil, fmt.Errorf("%w: the manifest did not parse, so the plugin cannot be loaded (the manifest analyzer says why)", vet.ErrSkipped)
	case in.Module == nil:
		return nil, fmt.Errorf("%w: the package holds no module %s to run", vet.ErrSkipped, in.Manifest.Runtime.Module)
	}
	var files []string
	for _, e := range in.Package.Files {
		if ok, _ := path.Match("tests/*.json", e.Path); ok {
			files = append(files, e.Path)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: the package has no test scenarios (tests/*.json)", vet.ErrSkipped)
	}
	if len(files) > maxScenarioFiles {
		return nil, fmt.Errorf("the package has %d scenario files; the limit is %d", len(files), maxScenarioFiles)
	}

	tmp, err := os.MkdirTemp("", "gatehouse-behaviour-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the mounts: %w", err)
	}
	defer os.RemoveAll(tmp)
	d := &Detail{Files: files, Scenarios: []Run{}}
	req := sandbox.LoadRequest{Manifest: in.Manifest, Module: in.Module}
	req.Mounts, d.Mounts, err = mounts(tmp, in)
	if err != nil {
		return nil, err
	}
	// The scenario runner replaces this with its fakes for every load;
	// refusing here as well means no path ever leads to the network.
	req.HTTPTransport = noNetwork{}

	r := &report{}
	total := 0
	for _, file := range files {
		data, _ := in.Package.File(file)
		list, err := scenario.Parse(data)
		if err != nil {
			r.add(vet.Finding{
				RuleID:      RuleScenarioError,
				Severity:    vet.Medium,
				Message:     fmt.Sprintf("%s: the scenarios cannot be read: %s", file, clip(err.Error())),
				Location:    vet.Location{File: file},
				Fingerprint: vet.Fingerprint(RuleScenarioError, file),
				Remediation: remScenario,
			})
			continue
		}
		for _, s := range list {
			if total++; total > maxScenarios {
				return nil, fmt.Errorf("the package has more than %d scenarios; the limit is %d", maxScenarios, maxScenarios)
			}
			loc := vet.Location{File: file}
			if q, err := json.Marshal(s.Name); err == nil {
				if i := bytes.Index(data, q); i >= 0 {
					loc.Line, loc.Column = vet.LineCol(data, i)
				}
			}
			run, loadErr := a.run(ctx, req, s)
			if err := ctx.Err(); err != nil {
				return nil, err
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
				return r.finish(d), nil
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
	return r.finish(d), nil
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
func (a *Analyzer) run(ctx context.Context, req sandbox.LoadRequest, s scenario.Scenario) (outcome, error) {
	results, err := scenario.Run(ctx, a.rt, req, []scenario.Scenario{s})
	if err != nil || len(results) != 1 {
		if err == nil {
			err = errors.New("the scenario runner returned no result")
		}
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		return outcome{}, err
	}
	res := results[0]
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

// mounts copies, for each fs:read permission of the manifest, the
// package's folder of the same name (fs:read:/templates mounts the
// package's templates/ folder) into a private folder, read-only. A
// permission whose folder the package lacks gets an empty folder, so the
// plugin still loads and sees no files. It returns the host folders by
// mount path and, for Detail, the package folder behind each.
func mounts(tmp string, in *vet.Input) (map[string]string, map[string]string, error) {
	perms, err := manifest.ParsePermissions(in.Manifest.Permissions)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the manifest's permissions do not parse: %v", vet.ErrSkipped, err)
	}
	host := map[string]string{}
	shown := map[string]string{}
	for i, p := range perms {
		if p.Kind != hostapi.PermFSRead {
			continue
		}
		dir := filepath.Join(tmp, fmt.Sprintf("mount-%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("creating the folder for mount %s: %w", p.Scope, err)
		}
		folder := strings.Trim(p.Scope, "/")
		prefix := folder + "/"
		if folder == "" {
			prefix = ""
		}
		n := 0
		for _, e := range in.Package.Files {
			rel, ok := strings.CutPrefix(e.Path, prefix)
			if !ok {
				continue
			}
			// Paths were validated by pkgfile: relative, no "..", no
			// links; so the join stays inside dir.
			dst := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return nil, nil, fmt.Errorf("copying %s for mount %s: %w", e.Path, p.Scope, err)
			}
			data, _ := in.Package.File(e.Path)
			if err := os.WriteFile(dst, data, 0o400); err != nil {
				return nil, nil, fmt.Errorf("copying %s for mount %s: %w", e.Path, p.Scope, err)
			}
			n++
		}
		host[p.Scope] = dir
		if n > 0 {
			shown[p.Scope] = folder
		} else {
			shown[p.Scope] = ""
		}
	}
	if len(host) == 0 {
		return nil, nil, nil
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
