package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"gatehouse.dev/gatehouse/bench/internal/transform"
	"gatehouse.dev/gatehouse/manifest"
	"gatehouse.dev/gatehouse/sandbox"
)

var benchManifest = &manifest.Manifest{
	ManifestVersion: manifest.SchemaVersion,
	ID:              "bench/transform",
	Version:         "1.0.0",
	Name:            "Benchmark",
	License:         "MIT",
	Runtime: manifest.Runtime{
		Module:  "plugin.wasm",
		Exports: []string{"noop", "transform"},
		HostAPI: "^1.0.0",
	},
	Permissions: []string{},
}

func gatehouseRuntime(tb testing.TB) *sandbox.Runtime {
	tb.Helper()
	rt, err := sandbox.NewRuntime(sandbox.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func gatehouseLoad(tb testing.TB, rt *sandbox.Runtime) *sandbox.Plugin {
	tb.Helper()
	return gatehouseLoadIsolated(tb, rt, sandbox.IsolationCall)
}

func gatehouseLoadIsolated(tb testing.TB, rt *sandbox.Runtime, iso sandbox.Isolation) *sandbox.Plugin {
	tb.Helper()
	ctx := context.Background()
	p, err := rt.Load(ctx, sandbox.LoadRequest{Manifest: benchManifest, Module: guest(tb, "gatehouse/plugin"), Isolation: iso})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(ctx) })
	return p
}

// isolations are Gatehouse's two modes: "call" (the default: every call
// starts from the plugin's state after initialisation, a pooled instance
// reset to a snapshot) and "plugin" (opt-in: a pooled instance reused
// without reset, as Extism reuses one).
var isolations = []struct {
	name string
	iso  sandbox.Isolation
}{
	{"call", sandbox.IsolationCall},
	{"plugin", sandbox.IsolationPlugin},
}

// TestGatehouseTransform checks the Gatehouse guest computes what the
// transform does natively.
func TestGatehouseTransform(t *testing.T) {
	in := transform.Sample(sampleItems)
	want, err := transform.ApplyJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	p := gatehouseLoad(t, gatehouseRuntime(t))
	res, err := p.Call(context.Background(), "transform", in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Output, want) {
		t.Errorf("transform = %s, want %s", res.Output, want)
	}
	if _, err := p.Call(context.Background(), "transform", []byte("{")); sandbox.KindOf(err) != sandbox.KindPluginError {
		t.Errorf("transform of malformed JSON: %v, want a plugin error", err)
	}
}

// BenchmarkGatehouse measures the guest logic under Gatehouse's sandbox,
// in each isolation mode, always with its per-call timeout (the default,
// 5 s) able to stop the guest: compare with Extism's timeout=on. Compare isolation=call with Extism's
// instantiate+call (both start every call from a clean instance) and
// isolation=plugin with Extism's call (both reuse a live instance).
func BenchmarkGatehouse(b *testing.B) {
	ctx := context.Background()
	in := transform.Sample(sampleItems)

	for _, m := range isolations {
		b.Run("isolation="+m.name+"/call/noop", func(b *testing.B) {
			p := gatehouseLoadIsolated(b, gatehouseRuntime(b), m.iso)
			// The first call makes the pool's instance; time the calls
			// after it, as Extism's are timed after its instance exists.
			if _, err := p.Call(ctx, "noop", nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			loopCPU(b, func() {
				if _, err := p.Call(ctx, "noop", nil); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("isolation="+m.name+"/call/transform-1KB", func(b *testing.B) {
			p := gatehouseLoadIsolated(b, gatehouseRuntime(b), m.iso)
			b.SetBytes(int64(len(in)))
			if _, err := p.Call(ctx, "transform", in); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			loopCPU(b, func() {
				if _, err := p.Call(ctx, "transform", in); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("isolation="+m.name+"/call/noop-parallel", func(b *testing.B) {
			p := gatehouseLoadIsolated(b, gatehouseRuntime(b), m.iso)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Call(ctx, "noop", nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("load-cached", func(b *testing.B) {
		// The module is already in the runtime's compilation cache: this
		// is the cost of loading a version again (a swap or a rollback).
		rt := gatehouseRuntime(b)
		gatehouseLoad(b, rt)
		wasm := guest(b, "gatehouse/plugin")
		for b.Loop() {
			p, err := rt.Load(ctx, sandbox.LoadRequest{Manifest: benchManifest, Module: wasm})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
	b.Run("compile", func(b *testing.B) {
		wasm := guest(b, "gatehouse/plugin")
		for b.Loop() {
			rt, err := sandbox.NewRuntime(sandbox.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			p, err := rt.Load(ctx, sandbox.LoadRequest{Manifest: benchManifest, Module: wasm})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
			rt.Close(ctx)
		}
	})
}
