package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/sandbox"
)

// A workflow is an integration test across plugins: it chains calls of
// several plugins, the output of each step the input of the next, and says
// what the last step must give. Workflow files live in tests/workflows/*.json
// in a plugin folder (and so in its package); a file holds one workflow
// object or an array of them; unknown fields are errors:
//
//	{
//	  "name": "renders the welcome text and posts it to ops",
//	  "input": {"template": "welcome.txt", "data": {"name": "Ada"}},
//	  "steps": [
//	    {"plugin": "acme/templater", "export": "render"},
//	    {"plugin": "acme/notifier", "export": "notify", "with": {"channel": "ops"},
//	     "fetch": [{"request": {"method": "POST", "url": "https://hooks.example.com/v1/messages"},
//	                "response": {"status": 202, "body": "{\"id\": \"msg_7\"}"}}]}
//	  ],
//	  "expect": {"output": {"delivered": true, "status": 202, "id": "msg_7"}}
//	}
//
// The first step's input is "input"; each later step's input is the
// previous step's output. "with" (a JSON object) adds fields to that input,
// which must then be a JSON object; a field in both takes the value in
// "with". A step that fails ends the workflow: its error is the workflow's.
// "expect" is as in a scenario (exactly one of "output", "error",
// "errorKind"), about the last step run; "expect.kv" is not allowed, as
// every plugin has its own store. A step's "kv" seeds its plugin's store
// before the first step; "fetch" and "data" fake what that step's call
// reaches, as in a scenario, and each step's unused fakes fail the
// workflow. Every plugin a step names must be the plugin under test or one
// of the dependencies its manifest declares (directly or through another
// dependency); a plugin's fs:read mounts are its own folders of the same
// name, as in vetting.
//
// Like a scenario, each workflow runs twice from the same starting state,
// and a difference between the runs is reported as nondeterminism.

// Limits on what one workflow file may hold.
const (
	MaxWorkflows     = 100
	MaxWorkflowSteps = 16
)

// WorkflowDir is the folder of workflow files in a plugin folder or package.
const WorkflowDir = "tests/workflows"

// Workflow chains calls across plugins.
type Workflow struct {
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Steps  []Step          `json:"steps"`
	Expect Expect          `json:"expect"`
}

// Step is one call of a workflow.
type Step struct {
	Plugin string                     `json:"plugin"`
	Export string                     `json:"export"`
	With   json.RawMessage            `json:"with,omitempty"`
	KV     map[string]string          `json:"kv,omitempty"`
	Fetch  []Fake                     `json:"fetch,omitempty"`
	Data   map[string]json.RawMessage `json:"data,omitempty"`
}

// pluginIDPattern is the manifest's plugin id pattern.
var pluginIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,38}/[a-z][a-z0-9-]{0,63}$`)

// ParseWorkflows reads a workflow file: one workflow or an array of them.
func ParseWorkflows(data []byte) ([]Workflow, error) {
	return parseList[Workflow](data, "workflow", MaxWorkflows)
}

func (w Workflow) label() string { return w.Name }

func (w Workflow) validate() error {
	switch {
	case w.Name == "":
		return errors.New("a workflow needs a name")
	case len(w.Input) == 0:
		return errors.New("a workflow needs an input for its first step (use {} for none)")
	case !json.Valid(w.Input):
		return errors.New("the input is not valid JSON")
	case len(w.Steps) == 0:
		return errors.New(`a workflow needs "steps": the calls to chain`)
	case len(w.Steps) > MaxWorkflowSteps:
		return fmt.Errorf("%d steps; the limit is %d", len(w.Steps), MaxWorkflowSteps)
	case w.Expect.KV != nil:
		return errors.New(`"expect.kv" is for scenarios; in a workflow each plugin has its own store, so expect an output or an error`)
	}
	if err := (Scenario{Name: w.Name, Export: "-", Input: w.Input, Expect: w.Expect}).validate(); err != nil {
		return err
	}
	seeds := map[string]map[string]string{}
	for i, s := range w.Steps {
		at := fmt.Sprintf("step %d", i+1)
		switch {
		case !pluginIDPattern.MatchString(s.Plugin):
			return fmt.Errorf("%s: plugin %q is not a plugin id such as acme/templater", at, s.Plugin)
		case s.Export == "":
			return fmt.Errorf("%s: a step needs an export to call", at)
		case len(s.Fetch) > maxFakes:
			return fmt.Errorf("%s: %d fake fetches; the limit is %d", at, len(s.Fetch), maxFakes)
		}
		if len(s.With) > 0 {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(s.With, &obj); err != nil || obj == nil {
				return fmt.Errorf(`%s: "with" must be a JSON object of the fields to add to the step's input`, at)
			}
		}
		for _, f := range s.Fetch {
			if f.Request.URL == "" {
				return fmt.Errorf("%s: a fake fetch needs request.url", at)
			}
			if len(f.Request.JSON) > 0 && !json.Valid(f.Request.JSON) {
				return fmt.Errorf("%s: a fake fetch's request.json is not valid JSON", at)
			}
		}
		for k, v := range s.KV {
			m := seeds[s.Plugin]
			if m == nil {
				m = map[string]string{}
				seeds[s.Plugin] = m
			}
			if old, ok := m[k]; ok && old != v {
				return fmt.Errorf("%s: the store of %s is seeded twice with different values for %q; seed it once", at, s.Plugin, k)
			}
			m[k] = v
		}
	}
	return nil
}

// Plugins returns the plugins the workflow's steps call, sorted, each once.
func (w Workflow) Plugins() []string {
	var out []string
	for _, s := range w.Steps {
		out = append(out, s.Plugin)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WorkflowResult is the outcome of one workflow.
type WorkflowResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Output is the last step's output; ErrorKind and Error the failure
	// of the step that failed, FailedStep its number (1-based).
	Output     json.RawMessage   `json:"output,omitempty"`
	ErrorKind  sandbox.ErrorKind `json:"errorKind,omitempty"`
	Error      string            `json:"error,omitempty"`
	FailedStep int               `json:"failedStep,omitempty"`
	// Mismatch says how the first run differs from what was expected.
	Mismatch string `json:"mismatch,omitempty"`
	// Steps are the first run's steps, in order, as far as it got.
	Steps            []StepResult `json:"steps"`
	Nondeterministic bool         `json:"nondeterministic,omitempty"`
	Difference       string       `json:"difference,omitempty"`
	// Duration adds up the steps' calls.
	Duration time.Duration `json:"durationNs"`
}

// StepResult is one step of a workflow's first run.
type StepResult struct {
	Plugin    string             `json:"plugin"`
	Version   string             `json:"version"`
	Export    string             `json:"export"`
	Output    json.RawMessage    `json:"output,omitempty"`
	ErrorKind sandbox.ErrorKind  `json:"errorKind,omitempty"`
	Error     string             `json:"error,omitempty"`
	HostCalls []sandbox.HostCall `json:"hostCalls"`
	Denied    []sandbox.HostCall `json:"denied,omitempty"`
	Unfaked   []string           `json:"unfaked,omitempty"`
	// Unused lists the step's fake fetches the call never made.
	Unused      []string      `json:"unused,omitempty"`
	Duration    time.Duration `json:"durationNs"`
	MemoryBytes uint64        `json:"memoryBytes"`
}

// ErrUnknownPlugin is wrapped when a step names a plugin RunWorkflow was
// not given.
var ErrUnknownPlugin = errors.New("unknown plugin")

// RunWorkflow runs a workflow against the plugins by id, each described by
// the request that loads it (its grants, mounts and isolation; the fakes
// of each step replace its HTTPTransport and Data). The runtime's KV must
// be KV{}, so each run gets its own stores. The error is for a step naming
// a plugin that is not in plugins (ErrUnknownPlugin), a plugin that cannot
// be loaded (a *sandbox.CallError of KindLoadFailed) or a canceled
// context; the workflow's own failures are in the result.
func RunWorkflow(ctx context.Context, rt *sandbox.Runtime, plugins map[string]sandbox.LoadRequest, w Workflow) (WorkflowResult, error) {
	for i, s := range w.Steps {
		if _, ok := plugins[s.Plugin]; !ok {
			return WorkflowResult{}, fmt.Errorf("workflow %q, step %d: %w %s: a step may call the plugin under test or a dependency its manifest declares", w.Name, i+1, ErrUnknownPlugin, s.Plugin)
		}
	}
	first, err := runChain(ctx, rt, plugins, w)
	if err != nil {
		return WorkflowResult{}, err
	}
	second, err := runChain(ctx, rt, plugins, w)
	if err != nil {
		return WorkflowResult{}, err
	}
	r := WorkflowResult{Name: w.Name, Steps: first.steps}
	for _, s := range first.steps {
		r.Duration += s.Duration
	}
	last := first.last
	if first.err != nil {
		r.ErrorKind = sandbox.KindOf(first.err)
		r.Error = first.err.Error()
		r.FailedStep = len(first.steps)
	} else if len(last.Output) > 0 {
		r.Output = outputJSON(last.Output)
	}
	r.Mismatch = first.mismatch(w)
	r.Difference = first.differs(second)
	r.Nondeterministic = r.Difference != ""
	r.Passed = r.Mismatch == "" && !r.Nondeterministic
	return r, nil
}

func outputJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	q, _ := json.Marshal(string(b))
	return q
}

// chain is one run of a workflow.
type chain struct {
	steps    []StepResult
	last     sandbox.Result
	err      error  // the failed step's error
	setup    string // a step whose input could not be built
	calls    []sandbox.HostCall
	unusedBy []string
}

func runChain(ctx context.Context, rt *sandbox.Runtime, plugins map[string]sandbox.LoadRequest, w Workflow) (chain, error) {
	var c chain
	store := sandbox.NewMemoryKV()
	for _, s := range w.Steps {
		for k, v := range s.KV {
			if err := store.Set(ctx, s.Plugin, k, []byte(v)); err != nil {
				return c, fmt.Errorf("workflow %q: seeding the store of %s: %w", w.Name, s.Plugin, err)
			}
		}
	}
	callCtx := WithStore(ctx, store)
	input := []byte(w.Input)
	for i, s := range w.Steps {
		in, err := stepInput(input, s.With)
		if err != nil {
			c.setup = fmt.Sprintf("step %d (%s %s): %v", i+1, s.Plugin, s.Export, err)
			return c, nil
		}
		fakes := &fakeTransport{fakes: s.Fetch, used: make([]bool, len(s.Fetch))}
		req := plugins[s.Plugin]
		req.HTTPTransport = fakes
		req.Data = fakeData(s.Data)
		p, err := rt.Load(callCtx, req)
		if err != nil {
			return c, fmt.Errorf("workflow %q, step %d: %w", w.Name, i+1, err)
		}
		warm, werr := p.Warm(callCtx)
		var res sandbox.Result
		cerr := werr
		if werr == nil {
			res, cerr = p.Call(callCtx, s.Export, in)
		}
		p.Close(context.Background())
		if err := ctx.Err(); err != nil {
			return c, err
		}
		res.HostCalls = slices.Concat(warm.HostCalls, res.HostCalls)
		sr := StepResult{
			Plugin: s.Plugin, Version: req.Manifest.Version, Export: s.Export,
			HostCalls: res.HostCalls, Unfaked: fakes.unmatched(), Unused: fakes.unused(),
			Duration: res.Duration, MemoryBytes: res.MemoryBytes,
		}
		if sr.HostCalls == nil {
			sr.HostCalls = []sandbox.HostCall{}
		}
		for _, hc := range res.HostCalls {
			if hc.Status == hostapi.StatusDenied {
				sr.Denied = append(sr.Denied, hc)
			}
		}
		for _, u := range sr.Unused {
			c.unusedBy = append(c.unusedBy, fmt.Sprintf("%s (step %d)", u, i+1))
		}
		c.calls = append(c.calls, res.HostCalls...)
		c.last = res
		if cerr != nil {
			sr.ErrorKind = sandbox.KindOf(cerr)
			sr.Error = cerr.Error()
			c.steps = append(c.steps, sr)
			c.err = cerr
			return c, nil
		}
		sr.Output = outputJSON(res.Output)
		c.steps = append(c.steps, sr)
		input = res.Output
	}
	return c, nil
}

// stepInput is the previous output with the fields of with added.
func stepInput(prev []byte, with json.RawMessage) ([]byte, error) {
	if len(with) == 0 {
		return prev, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(prev, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf(`"with" adds fields to the input, but the input %s is not a JSON object`, truncate(prev))
	}
	var add map[string]json.RawMessage
	if err := json.Unmarshal(with, &add); err != nil {
		return nil, fmt.Errorf(`"with": %w`, err)
	}
	for k, v := range add {
		obj[k] = v
	}
	return json.Marshal(obj)
}

func (c chain) mismatch(w Workflow) string {
	if c.setup != "" {
		return c.setup
	}
	n := len(c.steps)
	where := ""
	if n > 0 {
		s := c.steps[n-1]
		where = fmt.Sprintf(" at step %d (%s %s)", n, s.Plugin, s.Export)
	}
	var msgs []string
	switch {
	case c.err != nil && sandbox.KindOf(c.err) == "":
		// An unknown export or a closed plugin: never what a workflow
		// expects.
		msgs = append(msgs, fmt.Sprintf("the call could not run%s: %s", where, truncate([]byte(c.err.Error()))))
	case w.Expect.ErrorKind != "":
		if c.err == nil {
			msgs = append(msgs, fmt.Sprintf("expected a %s error, every step succeeded", w.Expect.ErrorKind))
		} else if k := sandbox.KindOf(c.err); k != w.Expect.ErrorKind {
			msgs = append(msgs, fmt.Sprintf("expected a %s error, got %s%s", w.Expect.ErrorKind, k, where))
		}
	case w.Expect.Error != "":
		if c.err == nil {
			msgs = append(msgs, fmt.Sprintf("expected an error containing %q, every step succeeded", w.Expect.Error))
		} else if !strings.Contains(c.err.Error(), w.Expect.Error) {
			msgs = append(msgs, fmt.Sprintf("expected an error containing %q, got%s: %s", w.Expect.Error, where, truncate([]byte(c.err.Error()))))
		}
	case c.err != nil:
		msgs = append(msgs, fmt.Sprintf("expected success, got %s%s: %s", kindText(c.err), where, truncate([]byte(c.err.Error()))))
	default:
		eq, err := jsonEqual(w.Expect.Output, c.last.Output)
		if err != nil {
			msgs = append(msgs, "the last step's output is not JSON: "+err.Error())
		} else if !eq {
			msgs = append(msgs, fmt.Sprintf("the last step's output %s differs from the expected %s", truncate(c.last.Output), truncate(w.Expect.Output)))
		}
	}
	if len(c.unusedBy) > 0 {
		msgs = append(msgs, "fake fetches never made: "+strings.Join(c.unusedBy, ", "))
	}
	return strings.Join(msgs, "; ")
}

func (c chain) differs(o chain) string {
	if len(c.steps) != len(o.steps) {
		return fmt.Sprintf("the first run stopped after %d steps and the second after %d", len(c.steps), len(o.steps))
	}
	if (c.err == nil) != (o.err == nil) || sandbox.KindOf(c.err) != sandbox.KindOf(o.err) {
		return fmt.Sprintf("the first run ended with %q and the second with %q", kindText(c.err), kindText(o.err))
	}
	for i := range c.steps {
		a, b := c.steps[i].Output, o.steps[i].Output
		if eq, err := jsonEqual(a, b); len(a)+len(b) > 0 && !(err == nil && eq) && !bytes.Equal(a, b) {
			return fmt.Sprintf("step %d's outputs differ: %s and %s", i+1, truncate(a), truncate(b))
		}
	}
	if !slices.Equal(c.calls, o.calls) {
		return fmt.Sprintf("the host calls differ: %d and %d calls", len(c.calls), len(o.calls))
	}
	return ""
}
