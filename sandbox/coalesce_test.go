package sandbox

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"gatehouse.dev/gatehouse/hostapi"
)

// initialMemory instantiates mod without running any start function and
// returns its memory.
func initialMemory(t *testing.T, mod []byte) []byte {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	b := r.NewHostModuleBuilder(hostapi.Module)
	for _, f := range hostapi.Functions {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), valTypes(f.Params), valTypes(f.Results)).Export(f.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := r.InstantiateWithConfig(ctx, mod, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	buf, _ := m.Memory().Read(0, m.Memory().Size())
	return bytes.Clone(buf)
}

func TestCoalesceDataKeepsInitialMemory(t *testing.T) {
	for _, name := range []string{"echo", "caps"} {
		orig := buildPlugin(t, name)
		merged := coalesceData(orig)
		if bytes.Equal(orig, merged) {
			t.Fatalf("%s: a Go module was not rewritten", name)
		}
		if len(merged) > len(orig)+len(orig)/4 {
			t.Errorf("%s: the module grew from %d to %d bytes", name, len(orig), len(merged))
		}
		if !bytes.Equal(initialMemory(t, orig), initialMemory(t, merged)) {
			t.Fatalf("%s: merging data segments changed the initial memory", name)
		}
	}
	// Modules of another shape are returned as they are.
	for _, mod := range [][]byte{wasmModule(), []byte("not wasm"), nil} {
		if got := coalesceData(mod); !bytes.Equal(got, mod) {
			t.Errorf("coalesceData changed a module it should have left alone")
		}
	}
}

func FuzzCoalesceData(f *testing.F) {
	f.Add(wasmModule())
	// Two segments 8 bytes apart, and a memory to hold them.
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x0b\x0e\x02\x00\x41\x00\x0b\x02ab\x00\x41\x0a\x0b\x01c"))
	f.Fuzz(func(t *testing.T, mod []byte) {
		out := coalesceData(mod)
		if bytes.Equal(out, mod) {
			return
		}
		// A rewrite must leave a module wazero reads the same way.
		ctx := context.Background()
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		_, errA := r.CompileModule(ctx, mod)
		_, errB := r.CompileModule(ctx, out)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("compiling the original: %v; the rewrite: %v", errA, errB)
		}
	})
}
