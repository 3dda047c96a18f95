package bench

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	extism "github.com/extism/go-sdk"

	"gatehouse.dev/gatehouse/bench/internal/transform"
)

// sampleItems makes the transform's input about 1 KB.
const sampleItems = 18

func extismCompiled(tb testing.TB) *extism.CompiledPlugin {
	tb.Helper()
	ctx := context.Background()
	m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: guest(tb, "extism/plugin")}}}
	cp, err := extism.NewCompiledPlugin(ctx, m, extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cp.Close(ctx) })
	return cp
}

func extismInstance(tb testing.TB, cp *extism.CompiledPlugin) *extism.Plugin {
	tb.Helper()
	ctx := context.Background()
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(ctx) })
	return p
}

// TestExtismTransform checks the Extism guest computes what the transform
// does natively, so the benchmark measures real work.
func TestExtismTransform(t *testing.T) {
	in := transform.Sample(sampleItems)
	if len(in) < 900 || len(in) > 1200 {
		t.Fatalf("sample input is %d bytes, want about 1 KB", len(in))
	}
	want, err := transform.ApplyJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	p := extismInstance(t, extismCompiled(t))
	rc, got, err := p.Call("transform", in)
	if err != nil || rc != 0 {
		t.Fatalf("transform = %d, %v", rc, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("transform = %s, want %s", got, want)
	}
	if rc, _, err := p.Call("transform", []byte("{")); err == nil && rc == 0 {
		t.Error("transform of malformed JSON succeeded")
	}
}

// BenchmarkExtism measures the same guest logic under the Extism Go SDK.
// Compile is cold compilation of the module (slow: run it with a small
// -benchtime such as 3x).
func BenchmarkExtism(b *testing.B) {
	ctx := context.Background()
	in := transform.Sample(sampleItems)

	b.Run("call/noop", func(b *testing.B) {
		p := extismInstance(b, extismCompiled(b))
		for b.Loop() {
			if rc, _, err := p.Call("noop", nil); err != nil || rc != 0 {
				b.Fatalf("noop = %d, %v", rc, err)
			}
		}
	})
	b.Run("call/transform-1KB", func(b *testing.B) {
		p := extismInstance(b, extismCompiled(b))
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if rc, _, err := p.Call("transform", in); err != nil || rc != 0 {
				b.Fatalf("transform = %d, %v", rc, err)
			}
		}
	})
	b.Run("call/noop-parallel", func(b *testing.B) {
		// Extism plugins are not safe for concurrent use: one instance per
		// goroutine, as a host serving calls on all cores would do. The
		// instances are made before the clock starts.
		cp := extismCompiled(b)
		pool := make(chan *extism.Plugin, runtime.GOMAXPROCS(0))
		for range cap(pool) {
			pool <- extismInstance(b, cp)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			p := <-pool
			defer func() { pool <- p }()
			for pb.Next() {
				if rc, _, err := p.Call("noop", nil); err != nil || rc != 0 {
					b.Errorf("noop = %d, %v", rc, err)
					return
				}
			}
		})
	})
	b.Run("instantiate", func(b *testing.B) {
		cp := extismCompiled(b)
		for b.Loop() {
			p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
	b.Run("instantiate+call/noop", func(b *testing.B) {
		// A fresh instance per call, as Gatehouse isolates every call.
		cp := extismCompiled(b)
		for b.Loop() {
			p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
			if err != nil {
				b.Fatal(err)
			}
			if rc, _, err := p.Call("noop", nil); err != nil || rc != 0 {
				b.Fatalf("noop = %d, %v", rc, err)
			}
			p.Close(ctx)
		}
	})
	b.Run("compile", func(b *testing.B) {
		m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: guest(b, "extism/plugin")}}}
		for b.Loop() {
			cp, err := extism.NewCompiledPlugin(ctx, m, extism.PluginConfig{EnableWasi: true}, nil)
			if err != nil {
				b.Fatal(err)
			}
			cp.Close(ctx)
		}
	})
}
