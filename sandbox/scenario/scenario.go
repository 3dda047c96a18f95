// Package scenario runs a plugin's test scenarios through the sandbox: each
// calls an export with an input and says what must come out, with fake
// responses for the HTTP fetches it makes and the key-value store it starts
// from. The vetting pipeline's behaviour analyzer, `gatehouse plugin init`'s
// scaffold and the example plugins all use this one format.
//
// A scenario file (tests/*.json in a plugin folder) holds one scenario
// object or an array of them; unknown fields are errors:
//
//	{
//	  "name": "increments an existing counter",
//	  "export": "increment",
//	  "input": {"name": "visits", "by": 2},
//	  "mounts": {"/templates": "templates"},
//	  "kv": {"counter/visits": "41"},
//	  "fetch": [{
//	    "request": {"method": "POST", "url": "https://hooks.example.com/v1",
//	                "headers": {"Content-Type": "application/json"}, "json": {"channel": "ops"}},
//	    "response": {"status": 202, "body": "{\"id\": \"msg_7\"}"}
//	  }],
//	  "data": {"read:contacts": {"name": "Ada"}},
//	  "expect": {"output": {"name": "visits", "value": 43}, "kv": {"counter/visits": "43"}}
//	}
//
// "expect" holds exactly one of "output" (the call succeeds and its output
// is JSON-equal to this) and "error" (the call fails and its message
// contains this text), or "errorKind" (the call fails with this kind, such
// as "timeout" or "denied"); "expect.kv", when given, is the whole store
// after the call. A fetch matches the first unused entry with its method
// (GET when absent) and exact URL, and the headers and JSON body the entry
// names; each entry answers once, and a scenario that leaves one unused
// fails. "data" answers the host's data scopes ("read:SCOPE",
// "write:SCOPE"). Fakes stand behind the permission checks, never instead
// of them: a fetch to an origin the plugin was not granted is still
// refused.
//
// Each scenario runs twice, each run from the same starting store, and a
// difference between the runs is reported as nondeterminism. The plugin
// is initialised (sandbox.Plugin.Warm) before the call, so the call's time
// limit covers the export only; an initialisation that fails is the run's
// failure, and the host calls it made are listed before the call's. A
// Runner initialises the plugin twice for all of a version's scenarios
// where that is the same as once per run (see Runner).
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/sandbox"
)

// Limits on what one file may hold.
const (
	MaxFileBytes = 1 << 20
	MaxScenarios = 500
	maxFakes     = 100
)

// Scenario is one call and what must come of it.
type Scenario struct {
	Name   string          `json:"name"`
	Export string          `json:"export"`
	Input  json.RawMessage `json:"input"`
	// Mounts maps a mount path granted by an fs:read: permission to a
	// folder relative to the plugin folder (see RunIn).
	Mounts map[string]string `json:"mounts,omitempty"`
	// KV is the plugin's key-value store before the call.
	KV     map[string]string          `json:"kv,omitempty"`
	Fetch  []Fake                     `json:"fetch,omitempty"`
	Data   map[string]json.RawMessage `json:"data,omitempty"`
	Expect Expect                     `json:"expect"`
}

// Fake is one fake HTTP exchange.
type Fake struct {
	Request  FakeRequest  `json:"request"`
	Response FakeResponse `json:"response"`
}

// FakeRequest says which fetch a fake answers.
type FakeRequest struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	JSON    json.RawMessage   `json:"json,omitempty"`
}

// FakeResponse is what the fake answers.
type FakeResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// Expect is what must come of the call.
type Expect struct {
	Output    json.RawMessage   `json:"output,omitempty"`
	Error     string            `json:"error,omitempty"`
	ErrorKind sandbox.ErrorKind `json:"errorKind,omitempty"`
	KV        map[string]string `json:"kv,omitempty"`
}

// Parse reads a scenario file: one scenario or an array of them.
func Parse(data []byte) ([]Scenario, error) {
	return parseList[Scenario](data, "scenario", MaxScenarios)
}

// named is a scenario or a workflow: a file holds one, or a list of them
// with distinct names.
type named interface {
	label() string
	validate() error
}

func (s Scenario) label() string { return s.Name }

// parseList reads one T or a JSON list of them (at most max, named kind
// in errors), each valid and named once.
func parseList[T named](data []byte, kind string, max int) ([]T, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the %s file is %d bytes; the limit is %d", kind, len(data), MaxFileBytes)
	}
	trimmed := bytes.TrimSpace(data)
	var list []T
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = dec.Decode(&list)
	} else {
		var one T
		err = dec.Decode(&one)
		list = []T{one}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %ss: %w", kind, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("reading %ss: unexpected data after the JSON value", kind)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("the file holds no %s", kind)
	}
	if len(list) > max {
		return nil, fmt.Errorf("the file holds %d %ss; the limit is %d", len(list), kind, max)
	}
	seen := map[string]bool{}
	for i, x := range list {
		if err := x.validate(); err != nil {
			return nil, fmt.Errorf("%s %d (%q): %w", kind, i+1, x.label(), err)
		}
		if seen[x.label()] {
			return nil, fmt.Errorf("%s %q is named twice", kind, x.label())
		}
		seen[x.label()] = true
	}
	return list, nil
}

func (s Scenario) validate() error {
	switch {
	case s.Name == "":
		return errors.New("a scenario needs a name")
	case s.Export == "":
		return errors.New("a scenario needs an export to call")
	case len(s.Input) == 0:
		return errors.New("a scenario needs an input (use {} for none)")
	case !json.Valid(s.Input):
		return errors.New("the input is not valid JSON")
	case len(s.Fetch) > maxFakes:
		return fmt.Errorf("%d fake fetches; the limit is %d", len(s.Fetch), maxFakes)
	}
	n := 0
	if len(s.Expect.Output) > 0 {
		n++
		if !json.Valid(s.Expect.Output) {
			return errors.New("expect.output is not valid JSON")
		}
	}
	if s.Expect.Error != "" {
		n++
	}
	if s.Expect.ErrorKind != "" {
		n++
	}
	if n != 1 {
		return errors.New(`"expect" needs exactly one of "output", "error" and "errorKind"`)
	}
	for _, f := range s.Fetch {
		if f.Request.URL == "" {
			return errors.New("a fake fetch needs request.url")
		}
		if len(f.Request.JSON) > 0 && !json.Valid(f.Request.JSON) {
			return errors.New("a fake fetch's request.json is not valid JSON")
		}
	}
	for mount, dir := range s.Mounts {
		if !strings.HasPrefix(mount, "/") {
			return fmt.Errorf("mount %q: a mount path is absolute, like /templates", mount)
		}
		if dir == "" || path.IsAbs(dir) || strings.HasPrefix(path.Clean(dir), "..") {
			return fmt.Errorf("mount %q: folder %q must be relative to the plugin folder and stay inside it", mount, dir)
		}
	}
	return nil
}

// Result is the outcome of one scenario.
type Result struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Output is the first run's output; ErrorKind and Error its failure.
	Output    json.RawMessage   `json:"output,omitempty"`
	ErrorKind sandbox.ErrorKind `json:"errorKind,omitempty"`
	Error     string            `json:"error,omitempty"`
	// Mismatch says how the first run differs from what was expected.
	Mismatch string `json:"mismatch,omitempty"`
	// HostCalls are the first run's host calls; Denied those refused.
	HostCalls []sandbox.HostCall `json:"hostCalls"`
	Denied    []sandbox.HostCall `json:"denied,omitempty"`
	// Unfaked lists fetches no fake answered.
	Unfaked []string `json:"unfaked,omitempty"`
	// Nondeterministic is set when two runs from the same state differ.
	Nondeterministic bool   `json:"nondeterministic,omitempty"`
	Difference       string `json:"difference,omitempty"`

	Duration    time.Duration `json:"durationNs"`
	MemoryBytes uint64        `json:"memoryBytes"`
}

// Run runs scenarios against the plugin described by req. Scenario mounts
// must already be in req.Mounts; use RunIn to resolve them in a folder.
// The runtime's KV must be KV{}, so each run gets its own store. The error
// is for a plugin that cannot be loaded (a *sandbox.CallError of
// KindLoadFailed) or a canceled context; scenario failures are in the
// results.
func Run(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, scenarios []Scenario) ([]Result, error) {
	return RunIn(ctx, rt, req, scenarios, "")
}

// RunIn is Run with scenario mounts resolved as folders inside dir (the
// plugin folder). A mount that leaves dir is refused.
func RunIn(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, scenarios []Scenario, dir string) ([]Result, error) {
	rn := NewRunner(rt, req, dir)
	defer rn.Close()
	out := make([]Result, 0, len(scenarios))
	for _, s := range scenarios {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		res, err := rn.Run(ctx, s)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// withMounts returns req with the scenario's mounts resolved as folders
// inside dir (the plugin folder); a mount the caller made already stays.
func withMounts(req sandbox.LoadRequest, s Scenario, dir string) (sandbox.LoadRequest, error) {
	if len(s.Mounts) == 0 {
		return req, nil
	}
	r := req
	r.Mounts = maps(req.Mounts)
	for mount, rel := range s.Mounts {
		if _, ok := r.Mounts[mount]; ok {
			continue // the caller mounted it already
		}
		if dir == "" {
			return req, fmt.Errorf("scenario %q mounts %s, but no plugin folder was given to find %q in", s.Name, mount, rel)
		}
		clean := filepath.Clean(filepath.FromSlash(rel))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return req, fmt.Errorf("scenario %q: mount folder %q leaves the plugin folder", s.Name, rel)
		}
		r.Mounts[mount] = filepath.Join(dir, clean)
	}
	return r, nil
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type run struct {
	res    sandbox.Result
	err    error
	fakes  *fakeTransport
	kvSeen map[string]string
}

// runOne runs s twice: on the shared plugins when sh is not nil, else
// each run on a plugin loaded and initialised for it.
func runOne(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, sh *shared, s Scenario) (Result, error) {
	runs := 0
	one := func() (run, error) {
		runs++
		fakes := &fakeTransport{fakes: s.Fetch, used: make([]bool, len(s.Fetch))}
		store := sandbox.NewMemoryKV()
		plugin := req.Manifest.ID
		for k, v := range s.KV {
			if err := store.Set(ctx, plugin, k, []byte(v)); err != nil {
				return run{}, fmt.Errorf("scenario %q: seeding the store: %w", s.Name, err)
			}
		}
		callCtx := WithStore(ctx, store)
		if sh != nil {
			// The call starts from the plugin's state right after its
			// initialisation, which made no host call (see shared), so
			// nothing of the scenario is missing from it.
			p := sh.plugins[runs-1]
			res, cerr := p.Call(withFakes(callCtx, fakes, fakeData(s.Data)), s.Export, s.Input)
			return run{res: res, err: cerr, fakes: fakes, kvSeen: store.Snapshot(plugin)}, nil
		}
		r := req
		r.HTTPTransport = fakes
		r.Data = fakeData(s.Data)
		p, err := rt.Load(callCtx, r)
		if err != nil {
			return run{}, fmt.Errorf("scenario %q: %w", s.Name, err)
		}
		defer p.Close(context.Background())
		// The plugin initialises before the call, under limits of its
		// own, so the call's time limit and Duration are the export's
		// alone. An initialisation that fails is the run's result; what
		// it did (host calls, refused ones above all) counts as the
		// run's, as it did when the call initialised the plugin.
		warm, werr := p.Warm(callCtx)
		if werr != nil {
			return run{res: warm, err: werr, fakes: fakes, kvSeen: store.Snapshot(plugin)}, nil
		}
		res, cerr := p.Call(callCtx, s.Export, s.Input)
		if len(warm.HostCalls) > 0 {
			res.HostCalls = slices.Concat(warm.HostCalls, res.HostCalls)
		}
		return run{res: res, err: cerr, fakes: fakes, kvSeen: store.Snapshot(plugin)}, nil
	}
	first, err := one()
	if err != nil {
		return Result{}, err
	}
	second, err := one()
	if err != nil {
		return Result{}, err
	}

	r := Result{
		Name:        s.Name,
		HostCalls:   first.res.HostCalls,
		Duration:    first.res.Duration,
		MemoryBytes: first.res.MemoryBytes,
		Unfaked:     first.fakes.unmatched(),
	}
	if r.HostCalls == nil {
		r.HostCalls = []sandbox.HostCall{}
	}
	for _, hc := range first.res.HostCalls {
		if hc.Status == hostapi.StatusDenied {
			r.Denied = append(r.Denied, hc)
		}
	}
	if first.err != nil {
		r.ErrorKind = sandbox.KindOf(first.err)
		r.Error = first.err.Error()
		if r.ErrorKind == "" {
			r.Mismatch = first.err.Error() // an unknown export, a closed plugin
		}
	} else if len(first.res.Output) > 0 {
		if json.Valid(first.res.Output) {
			r.Output = json.RawMessage(first.res.Output)
		} else {
			r.Output, _ = json.Marshal(string(first.res.Output))
		}
	}
	if r.Mismatch == "" {
		r.Mismatch = mismatch(s, first)
	}
	r.Difference = difference(first, second)
	r.Nondeterministic = r.Difference != ""
	r.Passed = r.Mismatch == "" && !r.Nondeterministic
	return r, nil
}

func mismatch(s Scenario, r run) string {
	kind := sandbox.KindOf(r.err)
	var msgs []string
	switch {
	case s.Expect.ErrorKind != "":
		if r.err == nil {
			msgs = append(msgs, fmt.Sprintf("expected a %s error, the call succeeded", s.Expect.ErrorKind))
		} else if kind != s.Expect.ErrorKind {
			msgs = append(msgs, fmt.Sprintf("expected a %s error, got %s", s.Expect.ErrorKind, kind))
		}
	case s.Expect.Error != "":
		if r.err == nil {
			msgs = append(msgs, fmt.Sprintf("expected an error containing %q, the call succeeded", s.Expect.Error))
		} else if !strings.Contains(r.err.Error(), s.Expect.Error) {
			msgs = append(msgs, fmt.Sprintf("expected an error containing %q, got %s", s.Expect.Error, truncate([]byte(r.err.Error()))))
		}
	case r.err != nil:
		msgs = append(msgs, fmt.Sprintf("expected success, got %s: %s", kindText(r.err), truncate([]byte(r.err.Error()))))
	default:
		eq, err := jsonEqual(s.Expect.Output, r.res.Output)
		if err != nil {
			msgs = append(msgs, "the output is not JSON: "+err.Error())
		} else if !eq {
			msgs = append(msgs, fmt.Sprintf("output %s differs from the expected %s", truncate(r.res.Output), truncate(s.Expect.Output)))
		}
	}
	if s.Expect.KV != nil && !reflect.DeepEqual(s.Expect.KV, r.kvSeen) {
		msgs = append(msgs, fmt.Sprintf("the store after the call is %s, expected %s", kvText(r.kvSeen), kvText(s.Expect.KV)))
	}
	if unused := r.fakes.unused(); len(unused) > 0 {
		msgs = append(msgs, "fake fetches never made: "+strings.Join(unused, ", "))
	}
	return strings.Join(msgs, "; ")
}

func kvText(m map[string]string) string {
	b, _ := json.Marshal(m)
	return truncate(b)
}

func difference(a, b run) string {
	ka, kb := sandbox.KindOf(a.err), sandbox.KindOf(b.err)
	if (a.err == nil) != (b.err == nil) || ka != kb {
		return fmt.Sprintf("the first run ended with %q and the second with %q", kindText(a.err), kindText(b.err))
	}
	if a.err == nil {
		if eq, err := jsonEqual(a.res.Output, b.res.Output); !(err == nil && eq) && !bytes.Equal(a.res.Output, b.res.Output) {
			return fmt.Sprintf("the outputs differ: %s and %s", truncate(a.res.Output), truncate(b.res.Output))
		}
	}
	if !slices.Equal(a.res.HostCalls, b.res.HostCalls) {
		return fmt.Sprintf("the host calls differ: %d and %d calls", len(a.res.HostCalls), len(b.res.HostCalls))
	}
	if !reflect.DeepEqual(a.kvSeen, b.kvSeen) {
		return "the stores after the two runs differ"
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

// MaxFakeBody bounds a request body read to match a fake.
const MaxFakeBody = 1 << 20

// fakeTransport answers fetches from a scenario's fakes, each once, in
// order, and records the fetches it had no fake for.
type fakeTransport struct {
	mu      sync.Mutex
	fakes   []Fake
	used    []bool
	missing []string
}

func (f *fakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(req.Body, MaxFakeBody))
		req.Body.Close()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, fk := range f.fakes {
		if f.used[i] || !matches(fk.Request, req, body) {
			continue
		}
		f.used[i] = true
		fr := fk.Response
		status := fr.Status
		if status == 0 {
			status = http.StatusOK
		}
		h := make(http.Header, len(fr.Headers))
		for k, v := range fr.Headers {
			h.Set(k, v)
		}
		return &http.Response{
			StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
			Body: io.NopCloser(strings.NewReader(fr.Body)), ContentLength: int64(len(fr.Body)), Request: req,
		}, nil
	}
	key := req.Method + " " + req.URL.String()
	f.missing = append(f.missing, key)
	return nil, fmt.Errorf("the scenario has no fake response for %s", key)
}

func matches(want FakeRequest, req *http.Request, body []byte) bool {
	method := want.Method
	if method == "" {
		method = http.MethodGet
	}
	if !strings.EqualFold(method, req.Method) || want.URL != req.URL.String() {
		return false
	}
	for k, v := range want.Headers {
		if req.Header.Get(k) != v {
			return false
		}
	}
	if len(want.JSON) > 0 {
		eq, err := jsonEqual(want.JSON, body)
		if err != nil || !eq {
			return false
		}
	}
	return true
}

func (f *fakeTransport) unmatched() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(f.missing)))
}

func (f *fakeTransport) unused() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, fk := range f.fakes {
		if !f.used[i] {
			m := fk.Request.Method
			if m == "" {
				m = http.MethodGet
			}
			out = append(out, m+" "+fk.Request.URL)
		}
	}
	return out
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

type storeKey struct{}

// WithStore returns a context whose calls use store as the key-value
// store, through a runtime whose KV is KV{}.
func WithStore(ctx context.Context, store *sandbox.MemoryKV) context.Context {
	return context.WithValue(ctx, storeKey{}, store)
}

// KV is a sandbox.KV that serves each call from the store in its context
// (WithStore), so scenario runs never share state. A call without one fails
// closed.
type KV struct{}

var errNoStore = errors.New("no scenario key-value store in the call's context")

func (KV) store(ctx context.Context) (*sandbox.MemoryKV, error) {
	if s, ok := ctx.Value(storeKey{}).(*sandbox.MemoryKV); ok {
		return s, nil
	}
	return nil, errNoStore
}

// Get implements sandbox.KV.
func (k KV) Get(ctx context.Context, plugin, key string) ([]byte, error) {
	s, err := k.store(ctx)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, plugin, key)
}

// Set implements sandbox.KV.
func (k KV) Set(ctx context.Context, plugin, key string, value []byte) error {
	s, err := k.store(ctx)
	if err != nil {
		return err
	}
	return s.Set(ctx, plugin, key, value)
}

// Delete implements sandbox.KV.
func (k KV) Delete(ctx context.Context, plugin, key string) error {
	s, err := k.store(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, plugin, key)
}
