package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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

func benchPlugin(b *testing.B, mutate func(*Config)) *Plugin {
	b.Helper()
	env := newEnv(b, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c.Breaker.Disabled = true
		if mutate != nil {
			mutate(c)
		}
	})
	return env.load(b, LoadRequest{Manifest: testManifest("bench/plugin", []string{"noop", "transform"}), Module: buildPlugin(b, "bench")})
}

// BenchmarkCallNoop is a full Call of an empty export: a fresh instance
// (Go runtime initialisation included), the call, and closing it.
func BenchmarkCallNoop(b *testing.B) {
	p := benchPlugin(b, nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Call(ctx, "noop", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallTransform1KB is a full Call of the 1 KB JSON transform.
func BenchmarkCallTransform1KB(b *testing.B) {
	p := benchPlugin(b, nil)
	in := transformInput()
	ctx := context.Background()
	res, err := p.Call(ctx, "transform", in)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("input %d bytes, output %s", len(in), res.Output)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Call(ctx, "transform", in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportCallWarm calls the empty export on one live instance: the
// cost of crossing into the guest, without the fresh instance that Call
// makes for isolation. It is the floor a reused instance would have.
func BenchmarkExportCallWarm(b *testing.B) {
	p := benchPlugin(b, nil)
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
	for b.Loop() {
		if _, err := fn.Call(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstantiateCached instantiates (and closes) the compiled module,
// running the Go runtime's _initialize: what every Call pays.
func BenchmarkInstantiateCached(b *testing.B) {
	p := benchPlugin(b, nil)
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
	p := benchPlugin(b, func(c *Config) {
		c.MaxConcurrent = 256
		c.QueueWait = time.Minute
	})
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
}
