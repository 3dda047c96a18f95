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

// extismTimeoutMillis is the per-call timeout the Extism plugin runs
// under in the timed benchmarks: Gatehouse's default (5 s). Extism's Go
// SDK turns wazero's WithCloseOnContextDone on when a manifest has a
// timeout, which is what makes the timeout stop a running guest.
const extismTimeoutMillis = 5000

func extismCompiled(tb testing.TB) *extism.CompiledPlugin {
	return extismCompiledTimeout(tb, 0)
}

// extismCompiledTimeout compiles the Extism guest with a per-call timeout
// of ms milliseconds (0: none, Extism's default).
func extismCompiledTimeout(tb testing.TB, ms uint64) *extism.CompiledPlugin {
	tb.Helper()
	ctx := context.Background()
	m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: guest(tb, "extism/plugin")}}, Timeout: ms}
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

// BenchmarkExtism measures the same guest logic under the Extism Go SDK,
// with a per-call timeout (timeout=on, as Gatehouse always runs) and
// without (Extism's default). Compile is cold compilation of the module
// (slow: run it with a small -benchtime such as 3x).
func BenchmarkExtism(b *testing.B) {
	ctx := context.Background()
	in := transform.Sample(sampleItems)

	for _, tm := range []struct {
		name string
		ms   uint64
	}{{"timeout=on", extismTimeoutMillis}, {"timeout=off", 0}} {
		b.Run(tm.name+"/call/noop", func(b *testing.B) {
			p := extismInstance(b, extismCompiledTimeout(b, tm.ms))
			if rc, _, err := p.Call("noop", nil); err != nil || rc != 0 {
				b.Fatalf("noop = %d, %v", rc, err)
			}
			b.ResetTimer()
			loopCPU(b, func() {
				if rc, _, err := p.Call("noop", nil); err != nil || rc != 0 {
					b.Fatalf("noop = %d, %v", rc, err)
				}
			})
		})
		b.Run(tm.name+"/call/transform-1KB", func(b *testing.B) {
			p := extismInstance(b, extismCompiledTimeout(b, tm.ms))
			b.SetBytes(int64(len(in)))
			if rc, _, err := p.Call("transform", in); err != nil || rc != 0 {
				b.Fatalf("transform = %d, %v", rc, err)
			}
			b.ResetTimer()
			loopCPU(b, func() {
				if rc, _, err := p.Call("transform", in); err != nil || rc != 0 {
					b.Fatalf("transform = %d, %v", rc, err)
				}
			})
		})
	}
	b.Run("call/noop-parallel", func(b *testing.B) {
		// Extism plugins are not safe for concurrent use: one instance per
		// goroutine, as a host serving calls on all cores would do. The
		// instances are made before the clock starts.
		cp := extismCompiledTimeout(b, extismTimeoutMillis)
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
		cp := extismCompiledTimeout(b, extismTimeoutMillis)
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
		cp := extismCompiledTimeout(b, extismTimeoutMillis)
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

// loopCPU runs f in b.Loop on one locked thread and reports the thread's
// CPU time per call as cpu-ns/op besides the wall time: on a shared
// machine, wall time grows with the load and CPU time much less. Work a
// call hands to other goroutines is not in it.
func loopCPU(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if end, ok2 := threadCPU(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}
