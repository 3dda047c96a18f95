package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"gatehouse.dev/gatehouse/hostapi"
	"gatehouse.dev/gatehouse/sandbox"
)

// Runner runs scenarios against one plugin version, one after the other.
//
// Loading a plugin (decoding, validating and compiling its module) and
// initialising it (for a Go plugin, its runtime's start-up and package
// init functions) cost far more than a scenario's call, and a scenario
// runs twice. So a Runner loads the plugin once and forks it
// (sandbox.Plugin.Fork), not twice per scenario: the first run of every
// scenario calls the load, the second run the fork. Each is initialised
// once, and each call starts from that state, restored by the sandbox's
// per-call isolation as on a host (see package sandbox), so a run sees
// exactly what a run on a plugin loaded for it alone would see. The two
// runs of a scenario still come from two initialisations, so state a
// plugin draws at random when it starts (a seed, a map's iteration order)
// still differs between them and is reported as nondeterminism.
//
// What a scenario brings (its fakes, data and store) reaches the shared
// loads through the call's context. An initialisation cannot be given it,
// so a plugin whose initialisation makes a host call, or fails, is loaded
// and initialised for each run instead, with the scenario's fakes and
// store, as is a scenario that mounts folders of its own.
type Runner struct {
	rt  *sandbox.Runtime
	req sandbox.LoadRequest
	dir string

	tried bool    // whether the shared loads were attempted
	sh    *shared // nil when they cannot be used
}

// shared are the load and the fork of the plugin every scenario's runs
// use.
type shared struct {
	plugins [2]*sandbox.Plugin
}

// NewRunner returns a Runner for the plugin req describes, with scenario
// mounts resolved as folders inside dir (see RunIn). Close it when done.
func NewRunner(rt *sandbox.Runtime, req sandbox.LoadRequest, dir string) *Runner {
	return &Runner{rt: rt, req: req, dir: dir}
}

// Run runs one scenario, twice, and compares the runs. The error is for a
// plugin that cannot be loaded (a *sandbox.CallError of KindLoadFailed),
// a mount that cannot be resolved or a canceled context; the scenario's
// failures are in the Result.
func (rn *Runner) Run(ctx context.Context, s Scenario) (Result, error) {
	req, err := withMounts(rn.req, s, rn.dir)
	if err != nil {
		return Result{}, err
	}
	var sh *shared
	if len(req.Mounts) == len(rn.req.Mounts) {
		// No mount of the scenario's own: the shared loads are this
		// plugin as the scenario would load it.
		if sh, err = rn.shared(ctx, s); err != nil {
			return Result{}, err
		}
	}
	return runOne(ctx, rn.rt, req, sh, s)
}

// Close releases the shared loads.
func (rn *Runner) Close() {
	if rn.sh != nil {
		for _, p := range rn.sh.plugins {
			p.Close(context.Background())
		}
		rn.sh = nil
	}
}

// shared loads, forks and initialises the plugin, the first time it is
// asked; it returns nil when they cannot stand in for a load per run (see
// Runner). A plugin that does not load is the error, as it would be for
// any run.
func (rn *Runner) shared(ctx context.Context, s Scenario) (*shared, error) {
	if rn.tried {
		return rn.sh, nil
	}
	rn.tried = true
	req := rn.req
	req.HTTPTransport = contextFakes{}
	req.Data = contextData
	p, err := rn.rt.Load(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	// The fork shares the load's compiled module, not its state.
	f, err := p.Fork()
	if err != nil {
		p.Close(context.Background())
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	sh := &shared{plugins: [2]*sandbox.Plugin{p, f}}
	// The initialisation runs with an empty store, no fakes and no data:
	// a host call it makes would have had the scenario's, so one made
	// here sends every run back to loads of its own.
	wctx := withFakes(WithStore(ctx, sandbox.NewMemoryKV()), &fakeTransport{}, nil)
	for _, p := range sh.plugins {
		res, err := p.Warm(wctx)
		if err != nil || len(res.HostCalls) > 0 {
			for _, q := range sh.plugins {
				q.Close(context.Background())
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, nil
		}
	}
	rn.sh = sh
	return sh, nil
}

type fakesKey struct{}

// callFakes is what a scenario run answers fetches and data requests
// with, carried by the call's context to the shared loads.
type callFakes struct {
	fetch *fakeTransport
	data  sandbox.DataFunc
}

func withFakes(ctx context.Context, fetch *fakeTransport, data sandbox.DataFunc) context.Context {
	return context.WithValue(ctx, fakesKey{}, callFakes{fetch: fetch, data: data})
}

var errNoFakes = errors.New("no scenario fakes in the call's context")

// contextFakes answers a fetch from the fakes of the call it was made
// in: the sandbox makes each request with the call's context.
type contextFakes struct{}

func (contextFakes) RoundTrip(req *http.Request) (*http.Response, error) {
	f, _ := req.Context().Value(fakesKey{}).(callFakes)
	if f.fetch == nil {
		// Never the network: a fetch outside a scenario's call fails.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoFakes
	}
	return f.fetch.RoundTrip(req)
}

// contextData answers a data request from the data of the call it was
// made in.
func contextData(ctx context.Context, plugin sandbox.PluginRef, req hostapi.DataRequest, write bool) ([]byte, error) {
	f, _ := ctx.Value(fakesKey{}).(callFakes)
	if f.data == nil {
		return nil, fmt.Errorf("%w: %w", errNoFakes, sandbox.ErrNotFound)
	}
	return f.data(ctx, plugin, req, write)
}
