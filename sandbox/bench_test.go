package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

// transformInput is the 1 KB input of the transform benchmark.
func transformInput() []byte {
	type item struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
		Qty  int      `json:"qty"`
	}
	var in struct {
		Items []item `json:"items"`
	}
	for i := 0; len(mustJSON(in)) < 1000; i++ {
		in.Items = append(in.Items, item{Name: fmt.Sprintf("widget-%d", i), Tags: []string{"a", fmt.Sprintf("t%d", i%3)}, Qty: i})
	}
	return mustJSON(in)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func benchPlugin(b *testing.B, iso Isolation, mutate func(*Config)) *Plugin {
	b.Helper()
	env := newEnv(b, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c.Breaker.Disabled = true
		if mutate != nil {
			mutate(c)
		}
	})
	return env.load(b, LoadRequest{Manifest: testManifest("bench/plugin", []string{"noop", "transform"}), Module: buildPlugin(b, "bench"), Isolation: iso})
}

// modes are the ways a call can get its instance: fresh (instantiated
// for the call, _initialize included, and closed after), reset (pooled,
// reset to the post-initialisation snapshot; IsolationCall's default: on
// Linux only the pages the call wrote), reset-copy (the same, copying
// the whole snapshot back, as before the copy-on-write reset and as on
// other systems) and warm (pooled, not reset; IsolationPlugin).
var modes = []struct {
	name  string
	iso   Isolation
	fresh bool
	copy  bool
}{
	{"fresh", IsolationCall, true, false},
	{"reset", IsolationCall, false, false},
	{"reset-copy", IsolationCall, false, true},
	{"warm", IsolationPlugin, false, false},
}

func benchModes(b *testing.B, export string, input []byte) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			p := benchPlugin(b, m.iso, func(c *Config) { c.copyReset = m.copy })
			if m.fresh {
				p.pool = nil
			}
			ctx := context.Background()
			res, err := p.Call(ctx, export, input)
			if err != nil {
				b.Fatal(err)
			}
			if len(input) > 0 {
				b.SetBytes(int64(len(input)))
				if m.name == "fresh" {
					b.Logf("input %d bytes, output %s", len(input), res.Output)
				}
			}
			b.ResetTimer()
			loopCPU(b, func() {
				if _, err := p.Call(ctx, export, input); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// loopCPU runs f in b.Loop on one locked thread and reports, besides the
// wall time, the thread's CPU time per call (cpu-ns/op): on a machine
// shared with other work, wall time grows with the load and CPU time
// much less. Work a call hands to other goroutines (timers, wazero's
// close-on-context-done watcher) is not in it.
func loopCPU(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, ok := currentThreadClock()
	var start time.Duration
	if ok {
		start, _ = clock.now()
	}
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if ok && n > 0 {
		end, _ := clock.now()
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}

// BenchmarkCallNoop is a full Call of an empty export in each mode.
func BenchmarkCallNoop(b *testing.B) { benchModes(b, "noop", nil) }

// BenchmarkCallTransform1KB is a full Call of the 1 KB JSON transform in
// each mode.
func BenchmarkCallTransform1KB(b *testing.B) { benchModes(b, "transform", transformInput()) }

// BenchmarkStopMechanism is the 1 KB transform and the empty export on a
// warm instance (no reset, so the guest's own speed shows) under each way
// of stopping a guest at its deadline: the rewrite's interrupt checks
// (the default), wazero's WithCloseOnContextDone (the previous default,
// a call out to Go at every loop head), and nothing at all (the floor: a
// runaway guest could not be stopped).
func BenchmarkStopMechanism(b *testing.B) {
	mechanisms := []struct {
		name string
		m    stopMechanism
	}{{"checks", stopChecks}, {"close-on-done", stopCloseOnDone}, {"none", stopNothing}}
	in := transformInput()
	for _, export := range []string{"transform", "noop"} {
		for _, mech := range mechanisms {
			b.Run(export+"/"+mech.name, func(b *testing.B) {
				p := benchPlugin(b, IsolationPlugin, func(c *Config) { c.stopWith = mech.m })
				ctx := context.Background()
				if _, err := p.Call(ctx, export, in); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				loopCPU(b, func() {
					if _, err := p.Call(ctx, export, in); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkReset is the reset alone, after an empty call wrote what it
// writes (the export is called on the instance directly, untimed work
// being impossible to exclude at this scale, so subtract
// BenchmarkExportCallWarm): pages puts back only the pages written (the
// default on Linux), copy the whole snapshot.
func BenchmarkReset(b *testing.B) {
	for _, copyAll := range []bool{false, true} {
		name := "pages"
		if copyAll {
			name = "copy"
		}
		b.Run(name, func(b *testing.B) {
			p := benchPlugin(b, IsolationCall, func(c *Config) { c.copyReset = copyAll })
			ctx := context.Background()
			if _, err := p.Call(ctx, "noop", nil); err != nil {
				b.Fatal(err)
			}
			inst := <-p.pool.free
			snap := p.pool.snap.Load()
			if !copyAll && copyOnWrite && inst.mapped == nil {
				b.Fatal("the instance is not a copy-on-write mapping")
			}
			b.ReportMetric(float64(len(snap.memory)), "snapshot-bytes")
			fn := inst.function("noop")
			st := &callState{p: p, stdout: &capWriter{max: 1 << 20}, stderr: &capWriter{max: 1 << 20}}
			ctx = context.WithValue(ctx, callStateKey{}, st)
			b.ResetTimer()
			loopCPU(b, func() {
				if _, err := fn.Call(ctx); err != nil {
					b.Fatal(err)
				}
				if !inst.resetTo(snap) {
					b.Fatal("reset refused")
				}
			})
		})
	}
}

// BenchmarkExportCallWarm calls the empty export on one live instance: the
// cost of crossing into the guest with none of Call's bookkeeping. It is
// the floor for a reused instance.
func BenchmarkExportCallWarm(b *testing.B) {
	p := benchPlugin(b, IsolationCall, nil)
	ctx := context.Background()
	st := &callState{p: p, stdout: &capWriter{max: 1 << 20}, stderr: &capWriter{max: 1 << 20}}
	ctx = context.WithValue(ctx, callStateKey{}, st)
	mod, err := p.wrt.InstantiateModule(ctx, p.compiled, p.modCfg)
	if err != nil {
		b.Fatal(err)
	}
	defer mod.Close(ctx)
	fn := mod.ExportedFunction("noop")
	b.ResetTimer()
	loopCPU(b, func() {
		if _, err := fn.Call(ctx); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkInstantiateCached instantiates (and closes) the compiled module,
// running the Go runtime's _initialize: what a fresh call pays, and what
// a pool pays once per new instance.
func BenchmarkInstantiateCached(b *testing.B) {
	p := benchPlugin(b, IsolationCall, nil)
	ctx := context.WithValue(context.Background(), callStateKey{}, &callState{p: p})
	b.ResetTimer()
	for b.Loop() {
		mod, err := p.wrt.InstantiateModule(ctx, p.compiled, p.modCfg)
		if err != nil {
			b.Fatal(err)
		}
		mod.Close(ctx)
	}
}

// BenchmarkNewPooledInstance makes (and closes) a new pooled instance
// once the pool has its snapshot: instantiation from the compiled cache
// without _initialize, then the snapshot's memory and globals: mapped
// from the copy-on-write image (Linux's default), or copied.
func BenchmarkNewPooledInstance(b *testing.B) {
	for _, copyAll := range []bool{false, true} {
		name := "mapped"
		if copyAll {
			name = "copy"
		}
		b.Run(name, func(b *testing.B) {
			p := benchPlugin(b, IsolationCall, func(c *Config) { c.copyReset = copyAll })
			if _, err := p.Call(context.Background(), "noop", nil); err != nil {
				b.Fatal(err)
			}
			if s := p.pool.snap.Load(); s == nil || !s.cloneable {
				b.Fatal("the pool has no snapshot to start instances from")
			}
			st := &callState{p: p, stdout: &capWriter{max: 1 << 20}, stderr: &capWriter{max: 1 << 20}}
			ctx := context.WithValue(context.Background(), callStateKey{}, st)
			b.ResetTimer()
			loopCPU(b, func() {
				inst, err := p.newInstance(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				inst.mod.Close(ctx)
			})
		})
	}
}

// BenchmarkLoadCold loads with an empty compilation cache: a full compile.
func BenchmarkLoadCold(b *testing.B) {
	mod := buildPlugin(b, "bench")
	ctx := context.Background()
	for b.Loop() {
		rt, err := NewRuntime(Config{CacheDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		p, err := rt.Load(ctx, LoadRequest{Manifest: testManifest("bench/plugin", []string{"noop"}), Module: mod})
		if err != nil {
			b.Fatal(err)
		}
		p.Close(ctx)
		rt.Close(ctx)
	}
}

// BenchmarkLoadFromDiskCache loads in a new Runtime (an empty in-memory
// cache) over a populated cache directory: what a restart pays.
func BenchmarkLoadFromDiskCache(b *testing.B) {
	mod := buildPlugin(b, "bench")
	dir := b.TempDir()
	ctx := context.Background()
	load := func() {
		rt, err := NewRuntime(Config{CacheDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		p, err := rt.Load(ctx, LoadRequest{Manifest: testManifest("bench/plugin", []string{"noop"}), Module: mod})
		if err != nil {
			b.Fatal(err)
		}
		p.Close(ctx)
		rt.Close(ctx)
	}
	load()
	b.ResetTimer()
	for b.Loop() {
		load()
	}
}

// BenchmarkCallsParallel measures calls a second with every core busy.
func BenchmarkCallsParallel(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			p := benchPlugin(b, m.iso, func(c *Config) {
				c.MaxConcurrent = 256
				c.QueueWait = time.Minute
			})
			if m.fresh {
				p.pool = nil
			}
			ctx := context.Background()
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Call(ctx, "noop", nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
		})
	}
}

// BenchmarkPrepareModule is the load-time rewrite of a Go plugin's module
// (data coalesced, tables bounded, globals exported, interrupt checks
// inserted), which every new module pays once per runtime; "scan-only"
// is the floor of a pass that only reads every instruction.
func BenchmarkPrepareModule(b *testing.B) {
	mod := buildPlugin(b, "bench")
	b.Run("rewrite", func(b *testing.B) {
		b.SetBytes(int64(len(mod)))
		for b.Loop() {
			if _, _, err := prepareModule(mod, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan-only", func(b *testing.B) {
		secs, err := splitSections(mod)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(mod)))
		for b.Loop() {
			for _, s := range secs {
				if s.id == 10 {
					stateOutsideMemory(s.body)
				}
			}
		}
	})
}
