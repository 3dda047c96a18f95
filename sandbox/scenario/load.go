package scenario

import (
	"context"
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse.dev/gatehouse/sandbox"
)

// Bounds of a load run: enough to see a plugin's latency under the host's
// limits, not so much that one command can occupy a machine for hours.
const (
	MaxLoadCalls       = 100_000
	MaxLoadConcurrency = 64
)

// KindBadOutput counts calls of a load run that finished as the sandbox
// saw it but not as the scenario expects: a different output, no error
// where one was expected, an unused fake.
const KindBadOutput = "bad_output"

// LoadOptions configure a load run.
type LoadOptions struct {
	// Calls is how many calls to make in all; Concurrency how many run
	// at once.
	Calls, Concurrency int
	// Progress, when set, is told after each call how many are done. It
	// is called from the workers, one call at a time.
	Progress func(done, total int)
}

// Validate says what is wrong with the options, naming the bound.
func (o LoadOptions) Validate() error {
	switch {
	case o.Calls < 1:
		return fmt.Errorf("a load run of %d calls: make at least 1 call", o.Calls)
	case o.Calls > MaxLoadCalls:
		return fmt.Errorf("a load run of %d calls: the limit is %d calls", o.Calls, MaxLoadCalls)
	case o.Concurrency < 1:
		return fmt.Errorf("a concurrency of %d: run at least 1 call at a time", o.Concurrency)
	case o.Concurrency > MaxLoadConcurrency:
		return fmt.Errorf("a concurrency of %d: the limit is %d calls at a time", o.Concurrency, MaxLoadConcurrency)
	case o.Concurrency > o.Calls:
		return fmt.Errorf("a concurrency of %d is more than the %d calls to make; lower the concurrency or make more calls", o.Concurrency, o.Calls)
	}
	return nil
}

// LoadReport is what a load run measured.
type LoadReport struct {
	Scenario    string `json:"scenario"`
	Export      string `json:"export"`
	Calls       int    `json:"calls"`
	Concurrency int    `json:"concurrency"`
	// OK counts calls that ended as the scenario expects.
	OK int `json:"ok"`
	// Errors counts the other calls by kind: the sandbox's error kinds
	// (timeout, trap, out_of_memory, output_too_large, throttled, denied,
	// plugin_error, breaker_open, ...) and KindBadOutput.
	Errors map[string]int `json:"errors"`
	// Latencies of the calls as the caller saw them (waiting for a slot,
	// instantiation and the export), nearest-rank percentiles.
	P50 time.Duration `json:"p50Ns"`
	P99 time.Duration `json:"p99Ns"`
	Max time.Duration `json:"maxNs"`
	// Wall is the whole run's time.
	Wall time.Duration `json:"wallNs"`
	// PeakMemoryBytes is the largest linear memory one call used (what the
	// manifest's memory limit bounds); PeakHostHeapBytes the host's Go
	// heap at its largest while the run went on, sampled.
	PeakMemoryBytes   uint64 `json:"peakMemoryBytes"`
	PeakHostHeapBytes uint64 `json:"peakHostHeapBytes"`
}

// Failed counts the calls that did not end as the scenario expects.
func (r LoadReport) Failed() int { return r.Calls - r.OK }

// LoadTest calls a scenario's export opts.Calls times, opts.Concurrency at
// once, on one loaded plugin, the way a host calls it: the runtime's limits
// (concurrency, rate, circuit breaker) apply as configured. Each call gets
// the scenario's starting store and fakes of its own (each fake answers
// once per call), so calls never share state; the runtime's KV must be
// KV{}. Scenario mounts are resolved inside dir, as RunIn does. The error
// is for bad options, a plugin that cannot be loaded, or a canceled
// context; how the calls went is in the report.
func LoadTest(ctx context.Context, rt *sandbox.Runtime, req sandbox.LoadRequest, s Scenario, dir string, opts LoadOptions) (LoadReport, error) {
	if err := opts.Validate(); err != nil {
		return LoadReport{}, err
	}
	if err := s.validate(); err != nil {
		return LoadReport{}, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	r, err := withMounts(req, s, dir)
	if err != nil {
		return LoadReport{}, err
	}
	r.HTTPTransport = contextFakes{}
	r.Data = fakeData(s.Data)
	p, err := rt.Load(ctx, r)
	if err != nil {
		return LoadReport{}, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	defer p.Close(context.Background())
	if _, err := p.Warm(WithStore(ctx, sandbox.NewMemoryKV())); err != nil {
		return LoadReport{}, fmt.Errorf("scenario %q: the plugin does not initialise: %w", s.Name, err)
	}

	rep := LoadReport{Scenario: s.Name, Export: s.Export, Calls: opts.Calls, Concurrency: opts.Concurrency, Errors: map[string]int{}}
	lat := make([]time.Duration, opts.Calls)
	kinds := make([]string, opts.Calls)
	var (
		next, done atomic.Int64
		peakMem    atomic.Uint64
		progressMu sync.Mutex
		heap       heapSampler
		wg         sync.WaitGroup
		setupErr   error
		setupOnce  sync.Once
	)
	heap.sample()
	start := time.Now()
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= opts.Calls || ctx.Err() != nil {
					return
				}
				kind, d, mem, err := loadCall(ctx, p, s)
				if err != nil {
					setupOnce.Do(func() { setupErr = err })
					return
				}
				lat[i], kinds[i] = d, kind
				for {
					old := peakMem.Load()
					if mem <= old || peakMem.CompareAndSwap(old, mem) {
						break
					}
				}
				n := int(done.Add(1))
				if n%max(1, opts.Calls/100) == 0 {
					heap.sample()
				}
				if opts.Progress != nil {
					progressMu.Lock()
					opts.Progress(n, opts.Calls)
					progressMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	rep.Wall = time.Since(start)
	heap.sample()
	if setupErr != nil {
		return rep, setupErr
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	for _, k := range kinds {
		if k == "" {
			rep.OK++
		} else {
			rep.Errors[k]++
		}
	}
	slices.Sort(lat)
	rep.P50, rep.P99, rep.Max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	rep.PeakMemoryBytes = peakMem.Load()
	rep.PeakHostHeapBytes = heap.peak
	return rep, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// loadCall makes one call with the scenario's starting state and returns
// "" when it ended as expected, or the kind of its failure.
func loadCall(ctx context.Context, p *sandbox.Plugin, s Scenario) (kind string, d time.Duration, mem uint64, err error) {
	store := sandbox.NewMemoryKV()
	for k, v := range s.KV {
		if err := store.Set(ctx, p.Ref().ID, k, []byte(v)); err != nil {
			return "", 0, 0, fmt.Errorf("scenario %q: seeding the store: %w", s.Name, err)
		}
	}
	fakes := &fakeTransport{fakes: s.Fetch, used: make([]bool, len(s.Fetch))}
	callCtx := withFakes(WithStore(ctx, store), fakes, nil)
	start := time.Now()
	res, cerr := p.Call(callCtx, s.Export, s.Input)
	d = time.Since(start)
	if ctx.Err() != nil {
		return "", d, res.MemoryBytes, ctx.Err()
	}
	r := run{res: res, err: cerr, fakes: fakes, kvSeen: store.Snapshot(p.Ref().ID)}
	if mismatch(s, r) == "" {
		return "", d, res.MemoryBytes, nil
	}
	expectErr := s.Expect.Error != "" || s.Expect.ErrorKind != ""
	if k := sandbox.KindOf(cerr); k != "" && !expectErr {
		return string(k), d, res.MemoryBytes, nil
	}
	if cerr != nil && sandbox.KindOf(cerr) == "" {
		return "", d, res.MemoryBytes, fmt.Errorf("scenario %q: %w", s.Name, cerr) // an unknown export
	}
	return KindBadOutput, d, res.MemoryBytes, nil
}

// heapSampler keeps the largest Go heap seen.
type heapSampler struct {
	mu   sync.Mutex
	peak uint64
	s    [1]metrics.Sample
}

func (h *heapSampler) sample() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.s[0].Name = "/memory/classes/heap/objects:bytes"
	metrics.Read(h.s[:])
	if h.s[0].Value.Kind() == metrics.KindUint64 {
		h.peak = max(h.peak, h.s[0].Value.Uint64())
	}
}
