// Package scenario runs a plugin package's test scenarios through the
// sandbox: each gives an export an input and says what output (or error
// kind) to expect, with fake responses for the HTTP fetches and data
// scopes the plugin uses. The vetting pipeline's behaviour analyzer and
// the plugin author's tests run the same code.
//
// A scenario file is JSON, either an array of scenarios or an object with a
// "scenarios" array:
//
//	[{
//	  "name": "greets by name",
//	  "export": "greet",
//	  "input": {"name": "Ada"},
//	  "expected": {"greeting": "hello Ada"},
//	  "fetch": {"GET https://api.example.com/v1/users/ada": {"status": 200, "body": "{\"id\":1}"}},
//	  "data": {"read:contacts": {"name": "Ada"}}
//	}]
//
// "expected" is compared for JSON equality; "expectedError" (an error
// kind such as "plugin_error" or "denied") replaces it for scenarios that
// must fail. Fakes replace only the network leg and the host's data
// callback: the plugin's grants are enforced as in production, so a fetch
// to an origin it was not granted is still refused.
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/sandbox"
)

// Scenario is one test case.
type Scenario struct {
	Name   string          `json:"name"`
	Export string          `json:"export"`
	Input  json.RawMessage `json:"input,omitempty"`
	// Expected is the expected output, compared for JSON equality. Empty
	// means any output is accepted (the scenario still records behaviour).
	Expected json.RawMessage `json:"expected,omitempty"`
	// ExpectedError is the sandbox.ErrorKind the call must end with.
	ExpectedError sandbox.ErrorKind `json:"expectedError,omitempty"`
	// Fetch maps "METHOD URL" to the fake response for that request.
	Fetch map[string]FakeResponse `json:"fetch,omitempty"`
	// Data maps "read:SCOPE" or "write:SCOPE" to the JSON the host's data
	// callback returns. A scope without an entry is not found.
	Data map[string]json.RawMessage `json:"data,omitempty"`
}

// FakeResponse is a fake HTTP response.
type FakeResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// Limits on a scenario file, which comes from a plugin author.
const (
	MaxFileBytes  = 4 << 20
	MaxScenarios  = 500
	maxNameLength = 200
)

// Parse reads a scenario file. Unknown fields are refused, so a misspelt
// "expected" is an error rather than a scenario that checks nothing.
func Parse(data []byte) ([]Scenario, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the scenario file is %d bytes; the limit is %d", len(data), MaxFileBytes)
	}
	trimmed := bytes.TrimSpace(data)
	var list []Scenario
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var file struct {
			Scenarios []Scenario `json:"scenarios"`
		}
		if err := dec.Decode(&file); err != nil {
			return nil, fmt.Errorf("reading scenarios: %w", err)
		}
		list = file.Scenarios
	} else if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("reading scenarios: %w", err)
	}
	if dec.More() {
		return nil, errors.New("reading scenarios: unexpected data after the scenarios")
	}
	if len(list) > MaxScenarios {
		return nil, fmt.Errorf("the file has %d scenarios; the limit is %d", len(list), MaxScenarios)
	}
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("scenario %d (%q): %w", i+1, s.Name, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("scenario %d: the name %q is used twice", i+1, s.Name)
		}
		seen[s.Name] = true
	}
	return list, nil
}

func (s Scenario) validate() error {
	if s.Name == "" || len(s.Name) > maxNameLength {
		return fmt.Errorf("a scenario needs a name of 1 to %d bytes", maxNameLength)
	}
	if s.Export == "" {
		return errors.New("a scenario needs the export to call")
	}
	if len(s.Expected) > 0 && s.ExpectedError != "" {
		return errors.New("a scenario expects either an output or an error, not both")
	}
	if len(s.Expected) > 0 && !json.Valid(s.Expected) {
		return errors.New("expected is not valid JSON")
	}
	for k := range s.Fetch {
		method, url, ok := strings.Cut(k, " ")
		if !ok || method == "" || method != strings.ToUpper(method) || url == "" {
			return fmt.Errorf("fetch key %q is not \"METHOD URL\"", k)
		}
	}
	for k := range s.Data {
		op, scope, ok := strings.Cut(k, ":")
		if !ok || (op != "read" && op != "write") || scope == "" {
			return fmt.Errorf("data key %q is not \"read:SCOPE\" or \"write:SCOPE\"", k)
		}
	}
	return nil
}

// Result is the outcome of one scenario.
type Result struct {
	Name string `json:"name"`
	// Passed is true when the output (or error kind) matched and both runs
	// behaved the same.
	Passed bool `json:"passed"`
	// Output and ErrorKind/Error are what the first run produced.
	Output    json.RawMessage   `json:"output,omitempty"`
	ErrorKind sandbox.ErrorKind `json:"errorKind,omitempty"`
	Error     string            `json:"error,omitempty"`
	// Mismatch says how the outcome differed from the expectation.
	Mismatch string `json:"mismatch,omitempty"`
	// HostCalls are the first run's capability calls; Denied are those the
	// sandbox refused.
	HostCalls []sandbox.HostCall `json:"hostCalls"`
	Denied    []sandbox.HostCall `json:"denied,omitempty"`
	// Unfaked lists fetches to granted origins that had no fake response
	// (the plugin saw a failure); a scenario never reaches the network.
	Unfaked []string `json:"unfaked,omitempty"`
	// Nondeterministic is true when the second run of the same input
	// produced a different output, error or sequence of host calls.
	Nondeterministic bool   `json:"nondeterministic,omitempty"`
	Difference       string `json:"difference,omitempty"`

	Duration    time.Duration `json:"durationNs"`
	MemoryBytes uint64        `json:"memoryBytes"`
}

// Run runs each scenario twice against the plugin described by req (its
// manifest, module, grants and mounts), each scenario with its own fakes.
// The error is for a plugin that cannot be loaded at all (then a
// *sandbox.CallError of KindLoadFailed) or a canceled context; scenario
// failures are in the results.
func Run(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, scenarios []Scenario) ([]Result, error) {
	out := make([]Result, 0, len(scenarios))
	for _, s := range scenarios {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r, err := runOne(ctx, rt, req, s)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runOne(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, s Scenario) (Result, error) {
	fakes := &fakeTransport{responses: s.Fetch}
	req.HTTPTransport = fakes
	req.Data = fakeData(s.Data)
	p, err := rt.Load(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	defer p.Close(context.Background())

	first, err1 := p.Call(ctx, s.Export, s.Input)
	second, err2 := p.Call(ctx, s.Export, s.Input)

	r := Result{
		Name:        s.Name,
		HostCalls:   first.HostCalls,
		Duration:    first.Duration,
		MemoryBytes: first.MemoryBytes,
		Unfaked:     fakes.unmatched(),
	}
	if r.HostCalls == nil {
		r.HostCalls = []sandbox.HostCall{}
	}
	for _, hc := range first.HostCalls {
		if hc.Status == hostapi.StatusDenied {
			r.Denied = append(r.Denied, hc)
		}
	}
	if err1 != nil {
		r.ErrorKind = sandbox.KindOf(err1)
		r.Error = err1.Error()
		if r.ErrorKind == "" {
			// Not a call error: an unknown export, a closed plugin.
			r.Mismatch = err1.Error()
		}
	} else if len(first.Output) > 0 {
		if json.Valid(first.Output) {
			r.Output = json.RawMessage(first.Output)
		} else {
			r.Output, _ = json.Marshal(string(first.Output))
		}
	}

	if r.Mismatch == "" {
		r.Mismatch = mismatch(s, first.Output, r.ErrorKind)
	}
	r.Difference = difference(first, err1, second, err2)
	r.Nondeterministic = r.Difference != ""
	r.Passed = r.Mismatch == "" && !r.Nondeterministic
	return r, nil
}

func mismatch(s Scenario, output []byte, kind sandbox.ErrorKind) string {
	switch {
	case s.ExpectedError != "":
		if kind != s.ExpectedError {
			if kind == "" {
				return fmt.Sprintf("expected error %s, the call succeeded", s.ExpectedError)
			}
			return fmt.Sprintf("expected error %s, got %s", s.ExpectedError, kind)
		}
	case kind != "":
		return fmt.Sprintf("expected success, got %s", kind)
	case len(s.Expected) > 0:
		eq, err := jsonEqual(s.Expected, output)
		if err != nil {
			return "the output is not JSON: " + err.Error()
		}
		if !eq {
			return fmt.Sprintf("output %s differs from the expected %s", truncate(output), truncate(s.Expected))
		}
	}
	return ""
}

func difference(a sandbox.Result, errA error, b sandbox.Result, errB error) string {
	ka, kb := sandbox.KindOf(errA), sandbox.KindOf(errB)
	if (errA == nil) != (errB == nil) || ka != kb {
		return fmt.Sprintf("the first run ended with %q and the second with %q", kindText(errA), kindText(errB))
	}
	if errA == nil {
		if eq, err := jsonEqual(a.Output, b.Output); !(err == nil && eq) && !bytes.Equal(a.Output, b.Output) {
			return fmt.Sprintf("the outputs differ: %s and %s", truncate(a.Output), truncate(b.Output))
		}
	}
	if !slices.Equal(a.HostCalls, b.HostCalls) {
		return fmt.Sprintf("the host calls differ: %d and %d calls", len(a.HostCalls), len(b.HostCalls))
	}
	return ""
}

func kindText(err error) string {
	if err == nil {
		return "success"
	}
	if k := sandbox.KindOf(err); k != "" {
		return string(k)
	}
	return err.Error()
}

func jsonEqual(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// fakeTransport answers fetches from a scenario's fakes and records the
// requests it had no fake for.
type fakeTransport struct {
	responses map[string]FakeResponse
	mu        sync.Mutex
	missing   []string
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	key := req.Method + " " + req.URL.String()
	fr, ok := f.responses[key]
	if !ok {
		f.mu.Lock()
		f.missing = append(f.missing, key)
		f.mu.Unlock()
		return nil, fmt.Errorf("the scenario has no fake response for %s", key)
	}
	status := fr.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := make(http.Header, len(fr.Headers))
	for k, v := range fr.Headers {
		h.Set(k, v)
	}
	return &http.Response{
		StatusCode:    status,
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(fr.Body)),
		ContentLength: int64(len(fr.Body)),
		Request:       req,
	}, nil
}

func (f *fakeTransport) unmatched() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(f.missing)))
}

func fakeData(data map[string]json.RawMessage) sandbox.DataFunc {
	return func(_ context.Context, _ sandbox.PluginRef, req hostapi.DataRequest, write bool) ([]byte, error) {
		op := "read"
		if write {
			op = "write"
		}
		v, ok := data[op+":"+req.Scope]
		if !ok {
			return nil, fmt.Errorf("the scenario has no data for %s:%s: %w", op, req.Scope, sandbox.ErrNotFound)
		}
		return v, nil
	}
}
